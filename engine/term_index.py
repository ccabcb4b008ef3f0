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

import itertools
import os
import zipfile
from array import array
from collections import Counter
from pathlib import Path

import numpy as np

from . import lexical

K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6  # FTS5's: a term in more than half the rows would get a negative idf
SAVED_FORMAT = "notellm-terms-1"


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
        # term -> (slots, occurrences), int32 each: numpy views into one sorted block after a bulk build,
        # copied out to growable arrays the first time a later row adds to that term.
        self._postings: dict[str, tuple[np.ndarray | array, np.ndarray | array]] = {}
        self._block: tuple | None = None  # the bulk build's arrays while nothing has changed since (see save)

    @classmethod
    def of(cls, rows) -> "TermIndex":
        """An index of (note id, row) pairs, a row being `lexical.document(...)`. Built in bulk, with one
        Python step per row and the (term, row) pairs sorted by numpy: 1.3 s for the 9,990-note scale
        vault against 1.8 s with `add` row by row."""
        note_of, length = array("q"), array("i")  # slot -> note id, and terms in its row
        pair_terms: list[str] = []  # each row's distinct terms, row after row
        pair_counts = array("i")  # and how often each occurs in it
        terms_per_row = array("i")
        for note_id, body in rows:
            if not body:
                continue
            words = body.split()
            occurrences = Counter(words)
            pair_terms += occurrences
            pair_counts.extend(occurrences.values())
            terms_per_row.append(len(occurrences))
            note_of.append(note_id)
            length.append(len(words))
        vocabulary = dict(zip(dict.fromkeys(pair_terms), itertools.count()))  # term -> id, first seen first
        term_ids = np.fromiter(map(vocabulary.__getitem__, pair_terms), dtype=np.int64, count=len(pair_terms))
        order = np.argsort(term_ids, kind="stable")  # by term, each term's rows in slot order
        slots = np.repeat(np.arange(len(note_of), dtype=np.int32), np.frombuffer(terms_per_row, dtype=np.int32))[order]
        counts = np.frombuffer(pair_counts, dtype=np.int32)[order]
        return cls._of_block(note_of, length, list(vocabulary), np.bincount(term_ids, minlength=len(vocabulary)), slots, counts)

    @classmethod
    def _of_block(cls, note_of: array, length: array, terms: list[str], rows_per_term: np.ndarray, slots: np.ndarray,
                  counts: np.ndarray) -> "TermIndex":
        """An index of live rows (`note_of`, `length` by slot) whose postings are views into one block sorted
        by term (`rows_per_term` rows each, in slot order)."""
        index = cls()
        index._note_of, index._length = note_of, length
        index.rows = len(note_of)
        index._total_terms = sum(length)
        index._live = bytearray(b"\x01") * index.rows
        index._slot_of = dict(zip(note_of, range(index.rows)))
        ends = np.cumsum(rows_per_term).tolist()
        starts = [0, *ends[:-1]]
        index._postings = {term: (slots[start:end], counts[start:end]) for term, start, end in zip(terms, starts, ends)}
        index.counts = Counter(dict(zip(terms, rows_per_term.tolist())))
        index._block = (terms, rows_per_term, slots, counts)
        return index

    # --- a copy on disk, so that a command need not read every row again ----------------------------
    def save(self, path: Path, version: str) -> None:
        """Write this index, as read from its rows (before any add or remove), for `load(path, version)`."""
        if self._block is None:
            raise ValueError("only an index built by TermIndex.of can be saved")
        terms, rows_per_term, slots, counts = self._block
        temporary = path.with_name(path.name + ".tmp")
        # Readable by this user only, as the index's other files: it holds the words of every note.
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
            np.savez(
                file, format=np.array(SAVED_FORMAT), version=np.array(version),
                terms=np.frombuffer("\n".join(terms).encode(), dtype=np.uint8),  # a term is a word: no whitespace
                rows_per_term=rows_per_term.astype(np.int64), slots=slots, counts=counts,
                note_of=np.frombuffer(self._note_of, dtype=np.int64), length=np.frombuffer(self._length, dtype=np.int32),
            )
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path, version: str) -> "TermIndex | None":
        """The index `save` wrote for this `version` of the rows; None if there is none, or it is another's."""
        try:
            with np.load(path) as saved:
                if str(saved["format"]) != SAVED_FORMAT or str(saved["version"]) != version:
                    return None
                terms = saved["terms"].tobytes().decode().split("\n") if saved["rows_per_term"].size else []
                return cls._of_block(array("q", saved["note_of"].tobytes()), array("i", saved["length"].tobytes()), terms,
                                     saved["rows_per_term"], saved["slots"], saved["counts"])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return None

    def add(self, note_id: int, body: str | None) -> None:
        """A note's row; the note must not have one (`remove` it first). An empty row is not held."""
        if not body:
            return
        assert note_id not in self._slot_of, note_id
        self._block = None
        words = body.split()
        occurrences = Counter(words)
        slot = len(self._note_of)
        postings_of = self._postings
        for term, count in occurrences.items():
            postings = postings_of.get(term)
            if postings is None:
                postings = postings_of[term] = (array("i"), array("i"))
            elif isinstance(postings[0], np.ndarray):  # a view into the bulk build's block
                postings = postings_of[term] = (array("i", postings[0].tobytes()), array("i", postings[1].tobytes()))
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
        self._block = None
        self._live[slot] = 0
        self.counts.subtract(set(body.split()))
        self.rows -= 1
        self._total_terms -= self._length[slot]
        if len(self._note_of) - self.rows > max(1024, self.rows):
            self._compact()

    def related(self, note_terms: list[str], limit: int) -> list[tuple[int, float]]:
        """The rows sharing words with a note (its `document(...).split()`, or a question's `terms(...)`):
        what `lexical.query_terms` asks of this vault's counts, scored by `matches`."""
        return self.matches(lexical.query_terms(note_terms, counts=self.counts, notes=self.rows), limit)

    def matches(self, query: list[str], limit: int) -> list[tuple[int, float]]:
        """(note id, BM25 score) of the `limit` best rows holding any of these terms, best first; ties by
        note id."""
        held = [term for term in dict.fromkeys(query) if self.counts.get(term, 0) > 0]
        if not held or limit <= 0:
            return []
        hits = np.array([self.counts[term] for term in held], dtype=np.float64)
        idf = np.maximum(np.log((self.rows - hits + 0.5) / (hits + 0.5)), IDF_FLOOR)
        postings = [self._postings[term] for term in held]
        slots = np.concatenate([np.asarray(term_slots, dtype=np.int32) for term_slots, _ in postings])
        occurrences = np.concatenate([np.asarray(term_counts, dtype=np.int32) for _, term_counts in postings])
        length = np.frombuffer(self._length, dtype=np.int32)[slots]
        average = self._total_terms / self.rows
        weight = (np.repeat(idf, [len(term_slots) for term_slots, _ in postings]) * occurrences * (K1 + 1)
                  / (occurrences + K1 * (1 - B + B * length / average)))
        scores = np.bincount(slots, weights=weight, minlength=len(self._note_of))
        scores *= np.frombuffer(self._live, dtype=np.uint8)
        found = np.flatnonzero(scores)
        note_of = np.frombuffer(self._note_of, dtype=np.int64)
        if len(found) > limit:  # the `limit` best; of those tied with the last, the lowest note ids
            found_scores = scores[found]
            last = np.partition(found_scores, len(found) - limit)[len(found) - limit]
            above, tied = found[found_scores > last], found[found_scores == last]
            found = np.concatenate([above, tied[np.argsort(note_of[tied])][: limit - len(above)]])
        return sorted(zip(note_of[found].tolist(), scores[found].tolist()), key=lambda pair: (-pair[1], pair[0]))

    def holders(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(note ids, weight) of the live rows holding `term`; the weight is BM25's per-row part (saturated
        term frequency, length-normalised) without the idf every holder shares."""
        if self.counts.get(term, 0) <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        term_slots, term_counts = (np.asarray(a, dtype=np.int32) for a in self._postings[term])
        live = np.frombuffer(self._live, dtype=np.uint8)[term_slots].astype(bool)
        slots, occurrences = term_slots[live], term_counts[live]
        weight = self._row_weight(occurrences, np.frombuffer(self._length, dtype=np.int32)[slots])
        return np.frombuffer(self._note_of, dtype=np.int64)[slots], weight

    def shared(self, terms: list[str], note_ids: list[int]) -> dict[int, dict[str, float]]:
        """{note id: {term: weight}} of these notes, for each of `terms` its row holds, the weight as `holders`
        gives it: what the notes share with a query, read from the postings of those terms alone."""
        slots = {self._slot_of[note_id]: note_id for note_id in note_ids if note_id in self._slot_of}
        found: dict[int, dict[str, float]] = {note_id: {} for note_id in slots.values()}
        if not slots:
            return found
        wanted = np.zeros(len(self._note_of), dtype=bool)
        wanted[list(slots)] = True
        for term in terms:
            if self.counts.get(term, 0) <= 0:
                continue
            term_slots, term_counts = (np.asarray(a, dtype=np.int32) for a in self._postings[term])
            hit = np.flatnonzero(wanted[term_slots])
            weights = self._row_weight(term_counts[hit], np.frombuffer(self._length, dtype=np.int32)[term_slots[hit]])
            for slot, weight in zip(term_slots[hit].tolist(), weights.tolist()):
                found[slots[slot]][term] = weight
        return found

    def _row_weight(self, occurrences: np.ndarray, length: np.ndarray) -> np.ndarray:
        """BM25's per-row part of a term's score: its occurrences saturated, normalised by the row's length."""
        return occurrences * (K1 + 1) / (occurrences + K1 * (1 - B + B * length / (self._total_terms / self.rows)))

    def _compact(self) -> None:
        """Renumber the live slots from 0 and drop every posting of a dead one."""
        live = np.frombuffer(self._live, dtype=np.uint8).astype(bool)
        renumber = np.cumsum(live, dtype=np.int64) - 1
        for term in list(self._postings):
            slots, occurrences = (np.asarray(a, dtype=np.int32) for a in self._postings[term])
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
