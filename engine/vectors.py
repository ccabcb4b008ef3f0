"""The USearch cosine index beside the SQLite file: saved atomically, rebuilt when out of step.

SQLite records a `vectors_generation` number that the indexer raises *before* it changes any
embedding; the USearch file is saved with the generation it reflects in a sidecar. A crash in
between leaves the numbers unequal, and the next open rebuilds the index from SQLite's blobs
without embedding anything again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from usearch.index import Index as USearchIndex

from .store import Store

GENERATION_KEY = "vectors_generation"


class VectorIndex:
    def __init__(self, path: Path, dimensions: int):
        self.path = Path(path)
        self.sidecar = self.path.with_suffix(".json")
        self.dimensions = dimensions
        self.index = self._new()
        self.generation: int | None = None

    def _new(self) -> USearchIndex:
        return USearchIndex(ndim=self.dimensions, metric="cos", dtype="f32")

    def __len__(self) -> int:
        return len(self.index)

    def load_or_rebuild(self, store: Store) -> bool:
        """Make the in-memory index match SQLite; returns True when it had to rebuild."""
        wanted = int(store.get_meta(GENERATION_KEY, "0"))
        if self.generation == wanted:
            return False
        if self.path.exists() and self.sidecar.exists():
            try:
                saved = json.loads(self.sidecar.read_text())
                if saved.get("generation") == wanted and saved.get("dimensions") == self.dimensions:
                    index = self._new()
                    index.load(str(self.path))
                    self.index, self.generation = index, wanted
                    return False
            except (OSError, ValueError, RuntimeError):
                pass  # unreadable or torn file: rebuild below
        self.rebuild(store)
        self.generation = wanted
        return True

    def rebuild(self, store: Store) -> None:
        index = self._new()
        for ids, vectors in store.iter_embeddings():
            if vectors.shape[1] == self.dimensions:
                index.add(ids, vectors)
        self.index = index

    def upsert(self, note_id: int, vector: np.ndarray) -> None:
        if note_id in self.index:
            self.index.remove(note_id)
        self.index.add(note_id, np.asarray(vector, dtype=np.float32))

    def remove(self, note_id: int) -> None:
        if note_id in self.index:
            self.index.remove(note_id)

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        """(note id, cosine similarity) pairs, most similar first."""
        if len(self.index) == 0:
            return []
        matches = self.index.search(np.asarray(vector, dtype=np.float32), min(count, len(self.index)))
        return [(int(key), float(1.0 - distance)) for key, distance in zip(matches.keys, matches.distances)]

    def save(self, generation: int) -> None:
        temp = self.path.with_suffix(".usearch.tmp")
        self.index.save(str(temp))
        os.replace(temp, self.path)
        temp_sidecar = self.sidecar.with_suffix(".json.tmp")
        temp_sidecar.write_text(json.dumps({"generation": generation, "dimensions": self.dimensions, "count": len(self.index)}))
        os.replace(temp_sidecar, self.sidecar)
        self.generation = generation
