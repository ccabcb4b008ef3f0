"""The notes' vectors as SQLite keeps them: the source engine/vectors.py's USearch file is rebuilt from."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .index_file import IndexFile
from .rows import decode_vector


class Vectors(IndexFile):
    """Reads of the `embedding` blobs of the notes (their writes come with the note's row: see Notes)."""

    def iter_embeddings(self, dimensions: int, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the notes whose vector has this many dimensions (an index left with two widths by
        a switch that a version before switch vectors did not finish still opens; its next reindex mends it)."""
        last_id = -1
        while True:
            rows = self.db.execute(
                "select id, embedding from notes where embedding is not null and length(embedding) = ? and id > ? order by id limit ?",
                [4 * dimensions, last_id, batch],
            ).fetchall()
            if not rows:
                return
            ids = np.array([row[0] for row in rows], dtype=np.uint64)
            vectors = np.stack([decode_vector(row[1]) for row in rows])
            yield ids, vectors
            last_id = rows[-1][0]

    def embedding_of(self, note_id: int) -> np.ndarray | None:
        row = self.db.execute("select embedding from notes where id = ?", [note_id]).fetchone()
        return decode_vector(row[0]) if row and row[0] is not None else None

    def embeddings(self, dimensions: int) -> np.ndarray:
        """Every note's vector of this width, one row each (none: an empty matrix)."""
        return self.ids_and_embeddings(dimensions)[1]

    def ids_and_embeddings(self, dimensions: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors): every note's vector of this width, one row each, and its note's id."""
        parts = list(self.iter_embeddings(dimensions))
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dimensions), dtype=np.float32)
        return np.concatenate([ids for ids, _ in parts]).astype(np.int64), np.concatenate([vectors for _, vectors in parts])
