"""The index's model, and a switch to another that readers see all at once: the new vectors wait beside the old."""

from __future__ import annotations

import numpy as np

from .notes import Notes
from .rows import NoteContent, encode_vector, stored_path
from .schema import EMBEDDER, EMBEDDER_MODEL


class ModelSwitch(Notes):
    """The embedder recorded for the index, and the `switch_vectors` table of a switch under way."""

    def embedder(self) -> str | None:
        """The embedder of the vectors readers use; None before the first. An index made before it was
        recorded: the one that made most of its vectors."""
        recorded = self.get_meta(EMBEDDER)
        if recorded is not None:
            return recorded
        row = self.db.execute(
            "select embedded_with from notes where embedded_with is not null and embedding is not null "
            "group by embedded_with order by count(*) desc limit 1"
        ).fetchone()
        return row[0] if row else None

    def embedder_recorded(self) -> bool:
        """Whether the index records its embedder (`embedder` answers from meta, not from a scan of the notes)."""
        return self.get_meta(EMBEDDER) is not None

    def embedder_model(self) -> str | None:
        """The model file the index's embedder loads, as its path was given; None if not recorded."""
        return self.get_meta(EMBEDDER_MODEL)

    def set_embedder(self, embedded_with: str, model: str) -> None:
        self.set_meta(EMBEDDER, embedded_with)
        self.set_meta(EMBEDDER_MODEL, model)

    def switch_vector_id(self, path: str, text_hash: str, embedded_with: str) -> int | None:
        """The note at `path` if a switch to this embedder already made its vector from this very text."""
        row = self.db.execute(
            "select n.id from notes n join switch_vectors s on s.id = n.id where n.path = ? and s.text_hash = ? and s.embedded_with = ?",
            [stored_path(path), text_hash, embedded_with],
        ).fetchone()
        return row[0] if row else None

    def store_switch_vector(self, path: str, content: NoteContent, vector: np.ndarray, embedded_with: str) -> int:
        """A switch's vector for this note, kept beside the note's own (which readers go on using); the row
        itself takes the note as it is now."""
        note_id = self._upsert({"path": path, **self._content_columns(content)})
        self.db.execute(
            "insert or replace into switch_vectors(id, text_hash, embedded_with, embedding) values (?, ?, ?, ?)",
            [note_id, content.text_hash, embedded_with, encode_vector(vector)],
        )
        return note_id

    def switch_complete(self, embedded_with: str) -> bool:
        """Whether every indexable note has a switch vector of this embedder for its current text."""
        missing = self.db.execute(
            "select 1 from notes n where n.skip_reason is null and not exists (select 1 from switch_vectors s "
            "where s.id = n.id and s.embedded_with = ? and s.text_hash = n.text_hash) limit 1",
            [embedded_with],
        ).fetchone()
        return missing is None

    def finish_switch(self, embedded_with: str, model: str) -> int | None:
        """In the caller's transaction (after `switch_complete`): the switch's vectors replace the notes' own,
        all at once, and their embedder becomes the index's. Returns their dimensions (None: no notes)."""
        row = self.db.execute("select length(embedding) / 4 from switch_vectors where embedded_with = ? limit 1",
                              [embedded_with]).fetchone()
        self.db.execute(
            "update notes set embedding = (select s.embedding from switch_vectors s where s.id = notes.id), embedded_with = ? "
            "where skip_reason is null",
            [embedded_with],
        )
        self.db.execute("delete from switch_vectors")
        self.set_embedder(embedded_with, model)
        return row[0] if row else None
