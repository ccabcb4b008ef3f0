"""The `notes` table: one row per vault path, a note with its metadata and vector or a skipped file with its reason."""

from __future__ import annotations

import json
import time
from typing import Iterable

import numpy as np

from .lexical import LexicalRows
from .rows import NOTE_ROW, KnownFile, NoteContent, NoteRow, encode_vector, json_list, marks, note_row, path_of, stored_path, to_json


class Notes(LexicalRows):
    """Reads and writes of note rows; a note skipped or deleted loses its lexical row with it."""

    def notes(self) -> list[NoteRow]:
        """Every path in the index, skipped ones included, sorted by path."""
        return [note_row(row) for row in self.db.execute(f"select {NOTE_ROW} from notes order by path")]

    def note(self, path: str) -> NoteRow | None:
        """The row at this vault path, matched exactly, else ignoring case."""
        path = stored_path(path)
        row = self.db.execute(f"select {NOTE_ROW} from notes where path = ? limit 1", [path]).fetchone()
        if row is None:
            row = self.db.execute(f"select {NOTE_ROW} from notes where path = ? collate nocase limit 1", [path]).fetchone()
        return note_row(row) if row else None

    def notes_by_ids(self, ids: list[int]) -> dict[int, NoteRow]:
        if not ids:
            return {}
        rows = self.db.execute(f"select {NOTE_ROW} from notes where id in ({marks(ids)})", ids)
        return {row[0]: note_row(row) for row in rows}

    def folders_of(self, ids: list[int]) -> dict[int, str]:
        """{note id: its folder} for these notes (`engine.folder_ranking`)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        return dict(self.db.execute(f"select id, folder from notes where id in ({marks(ids)})", ids))

    def vault_tags(self) -> list[str]:
        counts: dict[str, int] = {}
        for (tags,) in self.db.execute("select tags from notes where tags is not null and tags != '[]'"):
            for tag in json.loads(tags):
                counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts, key=lambda tag: -counts[tag])

    def folder_tag_lists(self, folder: str, exclude: int) -> list[list[str]]:
        """The tags of every other note directly in `folder` (an untagged note's as [])."""
        rows = self.db.execute("select tags from notes where folder = ? and id != ? and skip_reason is null", [folder, exclude])
        return [json_list(tags) for (tags,) in rows]

    def notes_per_folder(self) -> dict[str, int]:
        """{folder: how many indexable notes are directly in it}."""
        return dict(self.db.execute("select folder, count(*) from notes where skip_reason is null group by folder"))

    def tagged_share(self) -> float:
        """The share of indexable notes that carry a tag (0 for an empty vault)."""
        tagged, notes = self.db.execute(
            "select coalesce(sum(tags is not null and tags != '[]'), 0), count(*) from notes where skip_reason is null").fetchone()
        return tagged / notes if notes else 0.0

    def known_files(self) -> dict[str, KnownFile]:
        rows = self.db.execute("select path, id, mtime_ns, size, embedded_with, skip_reason from notes")
        return {path_of(path): KnownFile(*rest) for path, *rest in rows}

    def reusable_id(self, path: str, text_hash: str, embedded_with: str) -> int | None:
        """The note at `path` if its vector was made by this embedder from this very text."""
        row = self.db.execute(
            "select id from notes where path = ? and text_hash = ? and embedded_with = ? and embedding is not null",
            [stored_path(path), text_hash, embedded_with],
        ).fetchone()
        return row[0] if row else None

    def rename_candidates(self, ids: list[int], embedded_with: str) -> list[tuple[str, str, int]]:
        """(text hash, folder, id), in id order, of those of these notes embedded by this embedder (a new path
        with the same text is the same note moved)."""
        found: list[tuple[str, str, int]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found += self.db.execute(
                f"select text_hash, folder, id from notes where id in ({marks(chunk)}) and embedded_with = ?",
                [*chunk, embedded_with],
            ).fetchall()
        return sorted(found, key=lambda row: row[2])

    def embedded_ids(self, paths: list[str]) -> list[int]:
        """The ids of the notes at these paths that have a vector."""
        return self.ids_at(paths, embedded=True)

    def ids_at(self, paths: list[str], embedded: bool = False) -> list[int]:
        """The ids of the rows at these paths (with `embedded`, only those that have a vector)."""
        condition = " and embedding is not null" if embedded else ""
        ids = []
        for start in range(0, len(paths), 500):
            chunk = [stored_path(path) for path in paths[start:start + 500]]
            ids += [row[0] for row in self.db.execute(f"select id from notes where path in ({marks(chunk)}){condition}", chunk)]
        return ids

    def still_at(self, paths: dict[str, int]) -> list[int]:
        """The ids among `paths` (path -> id) whose row is still at that path (not renamed meanwhile)."""
        return [
            note_id for path, note_id in paths.items()
            if self.db.execute("select 1 from notes where id = ? and path = ?", [note_id, stored_path(path)]).fetchone()
        ]

    # Writes below are plain SQL so that they join the caller's transaction (see `transaction`).
    def _upsert(self, record: dict) -> int:
        record = record | {"path": stored_path(record["path"])}
        columns = list(record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "path")
        self.db.execute(
            f"insert into notes({', '.join(columns)}) values ({marks(columns)}) on conflict(path) do update set {updates}",
            [record[c] for c in columns],
        )
        return self.db.execute("select id from notes where path = ?", [record["path"]]).fetchone()[0]

    @staticmethod
    def _content_columns(content: NoteContent) -> dict:
        return {
            "title": content.title,
            "folder": content.folder,
            "mtime_ns": content.mtime_ns,
            "size": content.size,
            "content_hash": content.content_hash,
            "text_hash": content.text_hash,
            "tags": to_json(content.tags),
            "aliases": to_json(content.aliases),
            "category": content.category,
            "links": to_json([list(link) for link in content.links]),
            "warning": content.warning,
            "skip_reason": None,
            "indexed_at": time.time(),
        }

    def list_note(self, path: str, content: NoteContent) -> int:
        """Record a note that waits for its vector; a changed note keeps its previous vector meanwhile."""
        return self._upsert({"path": path, **self._content_columns(content), "embedded_with": None})

    def store_embedding(self, path: str, content: NoteContent, vector: np.ndarray, embedded_with: str) -> int:
        return self._upsert(
            {"path": path, **self._content_columns(content), "embedding": encode_vector(vector), "embedded_with": embedded_with}
        )

    def update_note(self, note_id: int, content: NoteContent, path: str | None = None) -> None:
        """New metadata for a note whose vector still holds (its text is unchanged), moved to `path` if given."""
        record = self._content_columns(content) | ({"path": stored_path(path)} if path is not None else {})
        assignments = ", ".join(f"{c} = ?" for c in record)
        self.db.execute(f"update notes set {assignments} where id = ?", [*record.values(), note_id])

    def mark_skipped(self, path: str, title: str, folder: str, reason: str, mtime_ns: int, size: int) -> int:
        """Record why a path is not indexed; its vector and words, if it had them, are dropped."""
        note_id = self._upsert({
            "path": path, "title": title, "folder": folder, "mtime_ns": mtime_ns, "size": size, "content_hash": None,
            "text_hash": None, "skip_reason": reason, "embedding": None, "embedded_with": None, "indexed_at": time.time(),
        })
        self.set_lexical(note_id, None)
        return note_id

    def delete_notes(self, ids: Iterable[int]) -> None:
        """These notes' rows, with every row of another table that names them."""
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self._forget_lexical_terms(chunk)
            for table, column in (("links", "source_id"), ("links", "target_id"), ("suggestions", "note_id"), ("lexical", "rowid"),
                                  ("switch_vectors", "id"), ("notes", "id")):
                self.db.execute(f"delete from {table} where {column} in ({marks(chunk)})", chunk)
