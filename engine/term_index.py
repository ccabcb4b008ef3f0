"""BM25 over a vault's lexical rows, held in memory: the lexical half of related notes in milliseconds.

SQLite FTS5 scored a note's 128-term query by walking the position list of every term in every row it
matched: p95 34 ms at 9,990 notes (docs/engine-speed.md), more than the whole `related` budget. Here each
term keeps two flat arrays, the slots of the rows that hold it and how often, and a query is scored with
numpy over just those postings. The score is FTS5's `bm25()`: Robertson-Sparck Jones idf (floored at
1e-6), k1 = 1.2, b = 0.75, over the terms `engine/lexical.py` writes (a row's terms are its
space-separated words).

A changed row gets a new slot and its old one is marked dead; the dead are dropped once they outnumber
the live, so a vault that is edited all day costs no more than one indexed once.
"""

from __future__ import annotations

from array import array
from collections import Counter

import numpy as np

K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6  # FTS5's: a term in more than half the rows would get a negative idf


class TermIndex:
    """Which rows hold which terms, and how often; `counts` says in how many live rows each term occurs."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.rows = 0
        self._total_terms = 0
        self._slot_of: dict[int, int] = {}
        self._note_of = array("q")  # slot -> note id
        self._length = array("i")  # slot -> terms in its row
        self._live = bytearray()  # slot -> 1 while it is its note's current row
        self._postings: dict[str, tuple[array, array]] = {}  # term -> (slots, occurrences)

    @classmethod
    def of(cls, rows) -> "TermIndex":
        """An index of (note id, row) pairs, a row being `lexical.document(...)`: about 2 s for 10,000 notes
        here. (Sorting every (term, row) pair in numpy was no faster: the time is Python's, a dict lookup
        per distinct term of each row.)"""
        index = cls()
        for note_id, body in rows:
            index.add(note_id, body)
        return index

    def add(self, note_id: int, body: str | None) -> None:
        """A note's row; the note must not have one (`remove` it first). An empty row is not held."""
        if not body:
            return
        assert note_id not in self._slot_of, note_id
        words = body.split()
        occurrences = Counter(words)
        slot = len(self._note_of)
        postings_of = self._postings
        for term, count in occurrences.items():
            postings = postings_of.get(term)
            if postings is None:
                postings = postings_of[term] = (array("i"), array("i"))
            postings[0].append(slot)
            postings[1].append(count)
        self.counts.update(occurrences.keys())
        self._slot_of[note_id] = slot
        self._note_of.append(note_id)
        self._length.append(len(words))
        self._live.append(1)
        self.rows += 1
        self._total_terms += len(words)

    def remove(self, note_id: int, body: str | None) -> None:
        """Drop a note's row, `body` being the row it was added with (no-op for a note without one)."""
        slot = self._slot_of.pop(note_id, None)
        if slot is None:
            return
        self._live[slot] = 0
        self.counts.subtract(set(body.split()))
        self.rows -= 1
        self._total_terms -= self._length[slot]
        if len(self._note_of) - self.rows > max(1024, self.rows):
            self._compact()

    def matches(self, query: list[str], limit: int) -> list[tuple[int, float]]:
        """(note id, BM25 score) of the `limit` best rows holding any of these terms, best first; ties by
        note id."""
        held = [term for term in dict.fromkeys(query) if self.counts.get(term, 0) > 0]
        if not held or limit <= 0:
            return []
        hits = np.array([self.counts[term] for term in held], dtype=np.float64)
        idf = np.maximum(np.log((self.rows - hits + 0.5) / (hits + 0.5)), IDF_FLOOR)
        slots = np.concatenate([np.frombuffer(self._postings[term][0], dtype=np.int32) for term in held])
        occurrences = np.concatenate([np.frombuffer(self._postings[term][1], dtype=np.int32) for term in held])
        spans = [len(self._postings[term][0]) for term in held]
        length = np.frombuffer(self._length, dtype=np.int32)[slots]
        average = self._total_terms / self.rows
        weight = np.repeat(idf, spans) * occurrences * (K1 + 1) / (occurrences + K1 * (1 - B + B * length / average))
        scores = np.bincount(slots, weights=weight, minlength=len(self._note_of))
        scores *= np.frombuffer(self._live, dtype=np.uint8)
        found = np.flatnonzero(scores)
        if len(found) > limit:
            found = found[np.argpartition(-scores[found], limit - 1)[:limit]]
        note_of = np.frombuffer(self._note_of, dtype=np.int64)
        ranked = sorted(zip(note_of[found].tolist(), scores[found].tolist()), key=lambda pair: (-pair[1], pair[0]))
        return ranked

    def _compact(self) -> None:
        """Renumber the live slots from 0 and drop every posting of a dead one."""
        live = np.frombuffer(self._live, dtype=np.uint8).astype(bool)
        renumber = np.cumsum(live, dtype=np.int64) - 1
        for term in list(self._postings):
            slots, occurrences = (np.frombuffer(a, dtype=np.int32) for a in self._postings[term])
            keep = live[slots]
            if not keep.any():
                del self._postings[term]
                continue
            self._postings[term] = (array("i", renumber[slots[keep]].astype(np.int32).tobytes()),
                                    array("i", occurrences[keep].tobytes()))
        note_of = np.frombuffer(self._note_of, dtype=np.int64)[live]
        self._note_of = array("q", note_of.tobytes())
        self._length = array("i", np.frombuffer(self._length, dtype=np.int32)[live].tobytes())
        self._live = bytearray(b"\x01" * len(self._note_of))
        self._slot_of = {int(note_id): slot for slot, note_id in enumerate(note_of.tolist())}
        self.counts = +self.counts  # drop the terms no row holds any more
