"""Hard negatives for GCL: notes of a pair's own collection that share many words with its first note but
are linked to neither side.

In-batch negatives of one collection (`--collection-batches`) are mostly easy: most notes of a vault share
few words with a given one. The engine ranks by the model fused with the lexical match, so the negatives
that teach the model what the words cannot tell are the notes the lexical match ranks high that are not
related. They are mined as the engine ranks: BM25 over `engine.lexical`'s terms (`engine.term_index`), the
note's own terms as the query; a collection's index is built the first time one of its notes is drawn.
"""

from __future__ import annotations

from collections import defaultdict

from notellm.engine.lexical import document
from notellm.engine.term_index import TermIndex

from .train_config import TrainError

SKIP_TOP = 2  # the very closest unlinked notes are often related notes that nobody linked: not negatives


class HardNegatives:
    """`for_pairs(pairs, count)`: up to `count` mined negatives per pair, distinct and outside the batch."""

    def __init__(self, notes: dict[str, dict], pairs: list[dict], skip_top: int = SKIP_TOP):
        if any("text" not in note for note in notes.values()):
            raise TrainError("--hard-negatives needs the notes' text: pack the data with `notellm-train pack --with-text`")
        self.notes, self.skip_top = notes, skip_top
        self.linked: dict[str, set[str]] = defaultdict(set)
        self.members: dict[str, list[str]] = defaultdict(list)
        for pair in pairs:
            self.linked[pair["a"]].add(pair["b"])
            self.linked[pair["b"]].add(pair["a"])
        for note_id, note in notes.items():
            self.members[note["vault"]].append(note_id)
        self._indexes: dict[str, tuple[list[str], TermIndex, dict[str, list[str]]]] = {}

    def _index(self, vault: str) -> tuple[list[str], TermIndex, dict[str, list[str]]]:
        if vault not in self._indexes:
            ids = self.members[vault]
            rows = [document(self.notes[i]["title"], self.notes[i]["text"]) for i in ids]
            self._indexes[vault] = (ids, TermIndex.of(enumerate(rows)), {i: row.split() for i, row in zip(ids, rows)})
        return self._indexes[vault]

    def for_note(self, note_id: str, count: int, not_these: set[str]) -> list[str]:
        """The notes ranked highest for `note_id` by BM25 in its collection, past the first `skip_top`
        unlinked ones, leaving out the note, its linked notes and `not_these`."""
        ids, index, terms = self._index(self.notes[note_id]["vault"])
        linked = self.linked[note_id]
        enough = count + self.skip_top + len(not_these) + len(linked) + 1  # the most that can be left out, and `count`
        unrelated = [ids[position] for position, _ in index.related(terms[note_id], enough)
                     if ids[position] != note_id and ids[position] not in linked]
        return [i for i in unrelated[self.skip_top:] if i not in not_these][:count]

    def for_pairs(self, pairs: list[dict], count: int) -> list[str]:
        """Negatives for every pair, none of them a note of the batch nor linked to either side of its pair."""
        taken = {p["a"] for p in pairs} | {p["b"] for p in pairs}
        mined: list[str] = []
        for pair in pairs:
            found = self.for_note(pair["a"], count, taken | self.linked[pair["b"]])
            mined += found
            taken.update(found)
        return mined
