"""The USearch cosine index beside the SQLite file: saved atomically, rebuilt when out of step.

SQLite records a `vectors_generation` number that `begin_changes` raises, in a commit of its own,
*before* the indexer changes any embedding; the USearch file is saved with the generation it
reflects in a sidecar. A crash in between leaves the numbers unequal, and the next `ready` (in
this process or another) rebuilds the index from SQLite's blobs without embedding anything again.
The sidecar also keeps the file's checksum: a file whose bytes changed since it was saved is rebuilt
the same way, and the next writer saves it again.

usearch 2.25.0 crashes (SIGSEGV) when keys are added to an index that was emptied by `remove` and
then saved and loaded (tests/test_guarantees.py checks that with plain usearch calls). So keys are
never removed down to an empty index, nor in bulk: the index is made afresh from SQLite's blobs
instead, and an empty index is not saved at all (the sidecar says it has no vectors).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .store import Store

if TYPE_CHECKING:
    from usearch.index import Index as USearchIndex

GENERATION_KEY = "vectors_generation"
DIMENSIONS_KEY = "dimensions"
TEMP_SUFFIXES = (".usearch.tmp", ".json.tmp")  # what `save` writes before renaming; stale after a kill
REBUILD_ABOVE = 32  # removing more keys than this (or a quarter of the index) rebuilds it from SQLite instead


def checksum(data: bytes) -> str:
    """Of a saved USearch file's bytes, kept in its sidecar: bytes changed on disk without changing its size
    (random ones in the middle) give NaN scores and a wrong ranking, and only this tells such a file apart.
    SHA-1, as the fastest digest here (CPUs hash it in hardware): the 6.6 MB file of 10,000 vectors of 128
    dimensions hashed in 16 ms (BLAKE2b: 54 ms) on a busy 2-core machine (2026-12-02). The bytes are read,
    hashed and loaded from memory, so the file is read once."""
    return hashlib.sha1(data).hexdigest()


def write_private(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a file created 0600 (`mode`: O_EXCL for a new file, O_TRUNC to overwrite)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb", closefd=False) as handle:
            handle.write(data)
    finally:
        os.close(descriptor)


class VectorIndex:
    """The search structure over one Store's vectors, kept in step with it."""

    def __init__(self, path: Path, store: Store):
        self.path = Path(path)
        self.sidecar = self.path.with_suffix(".json")
        self.store = store
        self.dimensions: int | None = None  # as SQLite says, once a vector was stored
        self.index: USearchIndex | None = None
        self.generation: int | None = None  # the SQLite generation the in-memory index reflects
        self.saved_generation: int | None = None  # the one the file on disk reflects, as far as this process knows
        self.version = 0  # raised at every change of the in-memory index: what a copy of its vectors is kept in step by

    def _new(self) -> USearchIndex:
        # Imported here, not at the top: training imports the engine's prompt and Markdown code on GPU
        # machines that have no usearch build.
        from usearch.index import Index as USearchIndex

        return USearchIndex(ndim=self.dimensions, metric="cos", dtype="f32")

    def __len__(self) -> int:
        return len(self.index) if self.index is not None else 0

    def ready(self) -> bool:
        """Make the in-memory index match SQLite (from the file, else rebuilt from the blobs); False
        while no vector was ever stored."""
        dimensions = self.store.get_meta(DIMENSIONS_KEY)
        if dimensions is None:
            return False
        if self.index is None or self.dimensions != int(dimensions):
            self.dimensions = int(dimensions)
            self.index, self.generation = self._new(), None
        wanted = int(self.store.get_meta(GENERATION_KEY, "0"))
        if self.generation != wanted:
            if not self._load(wanted):
                self.rebuild()
                self.saved_generation = None  # the file on disk is not this index: the next save writes it
            self.generation = wanted
            self.version += 1
        return True

    def _load(self, generation: int) -> bool:
        """Load the saved file if its sidecar says it reflects `generation`."""
        try:
            saved = json.loads(self.sidecar.read_text())
            if saved.get("generation") != generation or saved.get("dimensions") != self.dimensions:
                return False
            index = self._new()
            if saved.get("count"):
                data = self.path.read_bytes()
                if checksum(data) != saved.get("checksum"):
                    return False  # changed since it was saved: rebuilt from SQLite instead
                index.load(data)
        except (OSError, ValueError, RuntimeError):
            return False  # missing, unreadable or torn: rebuild
        self.index, self.saved_generation = index, generation
        return True

    def begin_changes(self, dimensions: int | None = None) -> bool:
        """Call before changing any embedding in SQLite: raises the stored generation (once per run of
        changes), so a crash before `save` is noticed by the next reader. `dimensions` is the vectors'
        size, recorded when it is new. False while there is no index to change."""
        if dimensions is not None and self.store.get_meta(DIMENSIONS_KEY) != str(dimensions):
            self.store.set_meta(DIMENSIONS_KEY, str(dimensions))
        if not self.ready():
            return False
        if self.generation == int(self.store.get_meta(GENERATION_KEY, "0")):
            self.generation += 1
            self.store.set_meta(GENERATION_KEY, str(self.generation))
        return True

    def replace_all(self, dimensions: int | None) -> None:
        """In the transaction that replaces every vector in SQLite (a model switch ending): their width, if
        known, and a new generation, so that each reader rebuilds from the new vectors once it commits."""
        if dimensions is not None:
            self.store.set_meta(DIMENSIONS_KEY, str(dimensions))
        self.store.set_meta(GENERATION_KEY, str(int(self.store.get_meta(GENERATION_KEY, "0")) + 1))

    def rebuild(self, leave_out: set[int] = frozenset()) -> None:
        index = self._new()
        for ids, vectors in self.store.iter_embeddings(self.dimensions):
            if leave_out:
                keep = np.array([int(note_id) not in leave_out for note_id in ids], dtype=bool)
                ids, vectors = ids[keep], vectors[keep]
            if len(ids):
                index.add(ids, vectors)
        self.index = index
        self.version += 1

    def upsert(self, note_id: int, vector: np.ndarray) -> None:
        if note_id in self.index:
            if len(self.index) == 1:
                self.index = self._new()  # never remove the last key (see the module's docstring)
            else:
                self.index.remove(note_id)
        self.index.add(note_id, np.asarray(vector, dtype=np.float32))
        self.version += 1

    def remove_many(self, ids: list[int]) -> None:
        """Take these keys out, after SQLite dropped their vectors: one by one when they are few,
        else (or when nothing would be left) by building the index afresh from SQLite."""
        if self.index is None:
            return
        present = {int(note_id) for note_id in ids if note_id in self.index}
        if not present:
            return
        if len(present) >= len(self.index) or len(present) > max(REBUILD_ABOVE, len(self.index) // 4):
            self.rebuild(leave_out=present)
        else:
            for note_id in present:
                self.index.remove(note_id)
        self.version += 1

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        """(note id, cosine similarity) pairs, most similar first."""
        if not len(self):
            return []
        matches = self.index.search(np.asarray(vector, dtype=np.float32), min(count, len(self.index)))
        # A vector that is not finite (a damaged blob) has no similarity: never a NaN score.
        return [(int(key), float(1.0 - distance)) for key, distance in zip(matches.keys, matches.distances)
                if np.isfinite(distance)]

    def save(self) -> None:
        """Write the file (0600) and then its sidecar with the generation SQLite now has, each by temp
        file and rename; an empty index is not written (nothing to load), its sidecar says count 0.
        Nothing to do before the index was loaded, or when the file already reflects that generation."""
        if self.index is None or self.generation is None:
            return
        generation = int(self.store.get_meta(GENERATION_KEY, "0"))
        if generation == self.saved_generation:
            return
        temp = self.path.with_suffix(TEMP_SUFFIXES[0])
        temp_sidecar = self.sidecar.with_suffix(TEMP_SUFFIXES[1])
        data = self.index.save() if len(self.index) else None
        try:
            if data is not None:
                temp.unlink(missing_ok=True)
                # Private whatever the umask, before a byte is written.
                write_private(temp, data, os.O_EXCL)
                os.replace(temp, self.path)
            else:
                self.path.unlink(missing_ok=True)
            sidecar = {"generation": generation, "dimensions": self.dimensions, "count": len(self.index),
                       "checksum": checksum(data) if data is not None else None}
            write_private(temp_sidecar, json.dumps(sidecar).encode(), os.O_TRUNC)
            os.replace(temp_sidecar, self.sidecar)
        finally:
            temp.unlink(missing_ok=True)
            temp_sidecar.unlink(missing_ok=True)
        self.generation = self.saved_generation = generation

    @staticmethod
    def files_of(path: Path) -> list[Path]:
        """Every file a VectorIndex at `path` may write: the index, its sidecar and their temp files."""
        return [path, path.with_suffix(".json"), *(path.with_suffix(suffix) for suffix in TEMP_SUFFIXES)]

    def remove_stale_temp_files(self) -> None:
        """Remove what a writer killed during `save` left; call only while holding the writer lock."""
        for suffix in TEMP_SUFFIXES:
            self.path.with_suffix(suffix).unlink(missing_ok=True)
