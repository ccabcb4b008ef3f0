"""The index's SQLite file: notes, their vectors, links, tag suggestions and navigation events.

SQLite is the source of truth; the USearch file (see vectors.py) can always be rebuilt from the
`embedding` blobs here. Schema changes are numbered migrations, applied in order and recorded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import sqlite_utils

from .errors import IndexCorruptError
from .lexical import FTS_TOKENIZER


def _migration_1(db: sqlite_utils.Database) -> None:
    db["notes"].create(
        {
            "id": int,
            "path": str,
            "title": str,
            "folder": str,
            "mtime_ns": int,
            "size": int,
            "content_hash": str,
            "text_hash": str,
            "tags": str,
            "aliases": str,
            "category": str,
            "links": str,
            "keywords": str,
            "warning": str,
            "skip_reason": str,
            "embedding": bytes,
            "embedded_with": str,
            "indexed_at": float,
        },
        pk="id",
        not_null={"path"},
    )
    db["notes"].create_index(["path"], unique=True)
    db["notes"].create_index(["content_hash"])
    db["links"].create({"source_id": int, "target_id": int}, pk=("source_id", "target_id"))
    db["links"].create_index(["target_id"])
    db["suggestions"].create(
        {"note_id": int, "tag_key": str, "tag": str, "status": str, "content_hash": str, "created_at": float},
        pk=("note_id", "tag_key"),
    )
    db["events"].create({"id": int, "kind": str, "source_path": str, "target_path": str, "at": float}, pk="id")
    db["meta"].create({"key": str, "value": str}, pk="key")


def _migration_2(db: sqlite_utils.Database) -> None:
    """Remember which version of a note suggestions were generated for, even when there were none."""
    db.execute("alter table notes add column suggested_for text")


LEXICAL_COMPLETE = "lexical_complete"  # meta key: every indexed note has its lexical row


def _migration_3(db: sqlite_utils.Database) -> None:
    """The words of each note for lexical matching (FTS5, rowid = note id); an existing index fills it on
    its next reindex, which reads every note once more without embedding any."""
    db.execute(f"create virtual table lexical using fts5(body, tokenize='{FTS_TOKENIZER}')")
    has_notes = db.execute("select 1 from notes limit 1").fetchone() is not None
    db.execute("insert or replace into meta(key, value) values (?, ?)", [LEXICAL_COMPLETE, "0" if has_notes else "1"])


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _migration_1),
    ("002_suggested_for", _migration_2),
    ("003_lexical", _migration_3),
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class NoteRow:
    id: int
    path: str
    title: str
    folder: str
    tags: list[str]
    content_hash: str | None
    skip_reason: str | None
    warning: str | None


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


class Store:
    """One vault's SQLite index file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Readable by this user only; SQLite gives its -wal and -shm files the same permissions.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        try:
            connection = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
            self.db = sqlite_utils.Database(connection)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                raise
            raise IndexCorruptError(
                f"the index at {self.path} is unreadable ({error}); rebuild it with `notellm-engine reindex VAULT --rebuild`"
            ) from error
        if os.name != "nt":
            for name in ("", "-wal", "-shm"):
                extra = Path(f"{self.path}{name}")
                if extra.exists() and extra.stat().st_mode & 0o077:
                    os.chmod(extra, 0o600)

    def migrate(self) -> None:
        if "_migrations" not in self.db.table_names():
            self.db["_migrations"].create({"name": str, "applied_at": float}, pk="name")
        applied = {row["name"] for row in self.db["_migrations"].rows}
        for name, migration in MIGRATIONS:
            if name in applied:
                continue
            migration(self.db)
            self.db.execute("insert into _migrations(name, applied_at) values (?, ?)", [name, time.time()])

    def close(self) -> None:
        self.db.conn.close()

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("insert into meta(key, value) values(?, ?) on conflict(key) do update set value = excluded.value", [key, value])

    def transaction(self):
        """`with store.transaction():` — one atomic write (BEGIN IMMEDIATE … COMMIT)."""
        return _Transaction(self.db.conn)

    # --- notes ----------------------------------------------------------------------------
    def known_files(self) -> dict[str, tuple[int, int, int, str | None, str | None, str | None]]:
        """path -> (id, mtime_ns, size, content_hash, embedded_with, skip_reason)."""
        rows = self.db.execute("select path, id, mtime_ns, size, content_hash, embedded_with, skip_reason from notes")
        return {row[0]: tuple(row[1:]) for row in rows}

    # Writes below are plain SQL so that they join the caller's transaction (see `transaction`).
    def upsert_note(self, record: dict) -> int:
        columns = list(record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "path")
        self.db.execute(
            f"insert into notes({', '.join(columns)}) values ({', '.join('?' * len(columns))}) "
            f"on conflict(path) do update set {updates}",
            [record[c] for c in columns],
        )
        return self.db.execute("select id from notes where path = ?", [record["path"]]).fetchone()[0]

    def update_note(self, note_id: int, record: dict) -> None:
        assignments = ", ".join(f"{c} = ?" for c in record)
        self.db.execute(f"update notes set {assignments} where id = ?", [*record.values(), note_id])

    def delete_notes(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for table, column in (("links", "source_id"), ("links", "target_id"), ("suggestions", "note_id"), ("lexical", "rowid"),
                                  ("notes", "id")):
                self.db.execute(f"delete from {table} where {column} in ({marks})", chunk)

    # --- lexical matching (engine/lexical.py says what a body and a query are) --------------------
    def set_lexical(self, note_id: int, body: str | None) -> None:
        """A note's lexical row: its terms, or none (a skipped note)."""
        self.db.execute("delete from lexical where rowid = ?", [note_id])
        if body:
            self.db.execute("insert into lexical(rowid, body) values (?, ?)", [note_id, body])

    def lexical_body(self, note_id: int) -> str | None:
        row = self.db.execute("select body from lexical where rowid = ?", [note_id]).fetchone()
        return row[0] if row else None

    def lexical_matches(self, match: str, limit: int) -> list[tuple[int, float]]:
        """(note id, BM25 score, higher is better) of the notes matching an FTS5 expression, best first."""
        rows = self.db.execute(
            "select rowid, bm25(lexical) as rank from lexical where lexical match ? order by rank limit ?", [match, limit]
        ).fetchall()
        return [(note_id, -score) for note_id, score in rows]

    def lexical_complete(self) -> bool:
        return self.get_meta(LEXICAL_COMPLETE, "1") == "1"

    def mark_lexical_complete(self) -> None:
        self.set_meta(LEXICAL_COMPLETE, "1")

    def note_by_path(self, path: str) -> dict | None:
        rows = list(self.db["notes"].rows_where("path = ?", [path], limit=1))
        if not rows:
            rows = list(self.db["notes"].rows_where("path = ? collate nocase", [path], limit=1))
        return rows[0] if rows else None

    def note_by_id(self, note_id: int) -> dict | None:
        rows = list(self.db["notes"].rows_where("id = ?", [note_id], limit=1))
        return rows[0] if rows else None

    def notes_by_ids(self, ids: list[int]) -> dict[int, dict]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        columns = "id, path, title, folder, tags, keywords"
        return {row["id"]: row for row in self.db.query(f"select {columns} from notes where id in ({marks})", ids)}

    def find_notes(self, query: str) -> list[dict]:
        """Notes whose path or title matches, best first: exact path, path without extension, title."""
        return list(
            self.db.query(
                """select id, path, title from notes where skip_reason is null and (
                     path = :q collate nocase or path = :q || '.md' collate nocase or title = :q collate nocase
                     or path like '%/' || :q collate nocase or path like '%/' || :q || '.md' collate nocase)
                   order by path = :q collate nocase desc, path = :q || '.md' collate nocase desc, length(path)""",
                {"q": query},
            )
        )

    def list_notes(self) -> list[dict]:
        return list(
            self.db.query(
                "select id, path, title, folder, mtime_ns, tags, embedding is not null as indexed, skip_reason, warning "
                "from notes order by path"
            )
        )

    def iter_embeddings(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        last_id = -1
        while True:
            rows = self.db.execute(
                "select id, embedding from notes where embedding is not null and id > ? order by id limit ?", [last_id, batch]
            ).fetchall()
            if not rows:
                return
            ids = np.array([row[0] for row in rows], dtype=np.uint64)
            vectors = np.stack([decode_vector(row[1]) for row in rows])
            yield ids, vectors
            last_id = rows[-1][0]

    def embeddings_of(self, ids: list[int]) -> list[np.ndarray | None]:
        """The stored vectors of these notes, in order (None where a note has none)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {i: blob for i, blob in self.db.execute(f"select id, embedding from notes where id in ({marks})", ids)}
        return [decode_vector(found[i]) if found.get(i) is not None else None for i in ids]

    def embedding_of(self, note_id: int) -> np.ndarray | None:
        row = self.db.execute("select embedding from notes where id = ?", [note_id]).fetchone()
        return decode_vector(row[0]) if row and row[0] is not None else None

    def vault_tags(self) -> list[str]:
        counts: dict[str, int] = {}
        for (tags,) in self.db.execute("select tags from notes where tags is not null and tags != '[]'"):
            for tag in json.loads(tags):
                counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts, key=lambda tag: -counts[tag])

    # --- links ----------------------------------------------------------------------------
    def replace_links(self, pairs: Iterable[tuple[int, int]]) -> None:
        self.db.execute("delete from links")
        self.db.conn.executemany("insert or ignore into links(source_id, target_id) values (?, ?)", pairs)

    def linked_ids(self, note_id: int) -> set[int]:
        rows = self.db.execute(
            "select target_id from links where source_id = ? union select source_id from links where target_id = ?",
            [note_id, note_id],
        )
        return {row[0] for row in rows}

    # --- suggestions and events -----------------------------------------------------------
    def suggestions(self, note_id: int) -> list[dict]:
        return list(self.db.query("select tag, tag_key, status, content_hash from suggestions where note_id = ? order by rowid", [note_id]))

    def replace_suggestions(self, note_id: int, content_hash: str, tags: list[tuple[str, str]]) -> None:
        """Store fresh suggestions; dismissed and accepted ones are remembered, not re-suggested."""
        with self.transaction():
            self.db.execute("delete from suggestions where note_id = ? and status = 'suggested'", [note_id])
            now = time.time()
            self.db.conn.executemany(
                "insert or ignore into suggestions(note_id, tag_key, tag, status, content_hash, created_at) values (?, ?, ?, 'suggested', ?, ?)",
                [(note_id, key, tag, content_hash, now) for tag, key in tags],
            )
            self.db.execute("update notes set suggested_for = ? where id = ?", [content_hash, note_id])

    def set_suggestion_status(self, note_id: int, tag: str, key: str, status: str) -> None:
        self.db.execute(
            "insert into suggestions(note_id, tag_key, tag, status, content_hash, created_at) values (?, ?, ?, ?, null, ?) "
            "on conflict(note_id, tag_key) do update set status = excluded.status",
            [note_id, key, tag, status, time.time()],
        )

    def record_event(self, kind: str, source_path: str, target_path: str) -> None:
        self.db.execute(
            "insert into events(kind, source_path, target_path, at) values (?, ?, ?, ?)", [kind, source_path, target_path, time.time()]
        )

    def events(self, kind: str | None = None) -> list[dict]:
        if kind:
            return list(self.db.query("select * from events where kind = ? order by id", [kind]))
        return list(self.db.query("select * from events order by id"))

    # --- status ---------------------------------------------------------------------------
    def counts(self, embedded_with: str) -> dict[str, int]:
        row = self.db.execute(
            """select count(*) filter (where skip_reason is null and embedded_with = :m and embedding is not null),
                      count(*) filter (where skip_reason is null and (embedded_with is not :m or embedding is null)),
                      count(*) filter (where skip_reason is not null)
               from notes""",
            {"m": embedded_with},
        ).fetchone()
        return {"indexed": row[0], "needs_embedding": row[1], "skipped": row[2]}

    def skipped(self) -> list[dict]:
        return list(self.db.query("select path, skip_reason as reason from notes where skip_reason is not null order by path"))

    def warnings(self) -> list[dict]:
        return list(self.db.query("select path, warning from notes where warning is not null order by path"))


class _Transaction:
    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self):
        self.connection.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        self.connection.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False
