"""The notes a note names: the one rule for when a note's text mentions another note's title.

People write a note's subject by its title long before, or instead of, linking it: on the validation
collections, with every link cut out of every note, the text of a linking note still holds its target's
title in 18% of the links (macro; sleeptoken 37%, davidgasquez 29%, the Chinese ITMO-Study-Notes 8%), where a
title turns up in 1.3% of the note pairs. The notes a note names (`TitleIndex.named_in`), longest title
first, join the related notes' fusion as one more list at a weight the vault's own links choose
(`engine.fusion_weight`). A title is matched as a run of whole terms (`lexical.terms`: casefolded words,
CJK runs as character pairs), so "Graph View" is named in "the graph view shows", and "Java" is not named
by "JavaScript".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from . import lexical

MIN_TITLE_CHARS = 3  # a title shorter than this ("Go", "C", "AI") names too much to say which note is meant
MAX_NAMED = 100  # as many as each other ranking offers (`fusion_weight.POOL`)
FEW_SECONDS = 8  # titles beginning with one term that go on this many ways are all tried; past it, only those the note continues


def title_terms(title: str) -> tuple[str, ...] | None:
    """A title as the run of terms a text must hold to name it, or None when it is too short to name anything."""
    found = tuple(lexical.terms(title))
    return found if len(" ".join(found)) >= MIN_TITLE_CHARS else None


class TitleIndex:
    """The vault's titles by their first term, then their second, to find those a note's terms hold without a pass in
    Python over them. The second term matters where many titles begin alike ("Meeting with ...", a year of daily
    notes): only those whose first two terms stand side by side in the note are walked."""

    def __init__(self, titles: Iterable[tuple[int, str]]) -> None:
        # first term -> second term ("" for a title of one term) -> (its terms, them between spaces, its note)
        self._by_start: dict[str, dict[str, list[tuple[tuple[str, ...], str, int]]]] = defaultdict(lambda: defaultdict(list))
        for note_id, title in titles:
            phrase = title_terms(title)
            if phrase is not None:
                self._by_start[phrase[0]][phrase[1] if len(phrase) > 1 else ""].append((phrase, f" {' '.join(phrase)} ", note_id))
        self._firsts = set(self._by_start)

    def named_in(self, note_terms: list[str], exclude: int | None = None, limit: int = MAX_NAMED) -> list[int]:
        """The notes whose title `note_terms` (a lexical row's, `lexical.document(...).split()`) hold: the
        longest title first (a longer title names its note more surely), then the first named first."""
        held = set(note_terms)
        row = f" {' '.join(note_terms)} "  # each title's terms are searched for in it as a string, between spaces
        found: dict[int, tuple[int, int]] = {}
        for first in held.intersection(self._firsts):  # two sets: it walks the smaller
            by_second = self._by_start[first]
            seconds = by_second.keys() if len(by_second) <= FEW_SECONDS else (
                {""} | {note_terms[i + 1] for i in range(len(note_terms) - 1) if note_terms[i] == first})
            for second in seconds:
                for phrase, needle, note_id in by_second.get(second, ()):
                    if note_id == exclude or note_id in found or not held.issuperset(phrase):
                        continue
                    position = row.find(needle)
                    if position >= 0:
                        found[note_id] = (-len(phrase), position)
        return sorted(found, key=found.__getitem__)[:limit]
