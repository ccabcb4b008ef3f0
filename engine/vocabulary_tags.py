"""Hashtags from a vault's own words, for notes whose related notes carry no tags.

A candidate tag is a term of the vault (`engine.lexical`: casefolded words, CJK as character pairs) that
several notes share but most do not: in at least `MIN_NOTES` notes and at most `MAX_HELD_SHARE` of them,
not a stopword, a valid tag as it stands. A term may go to at most `MAX_SHARE` of the vault's notes: when
more hold it, only the notes where it weighs most (BM25's per-row weight, `TermIndex.holders`) may get it,
so a broad word such as "networks" becomes the tag of the notes about networks, not of every note that
names them. A note's candidates are scored by their weight in it (title words count `TITLE_WEIGHT` times)
times (1 + votes)², the votes of its related notes that hold them too (1 / rank over the `VOTE_NEIGHBOURS`
closest, as `engine.neighbour_tags` votes): a word its neighbours share is a topic, a word only it uses is
a detail. Without idf, which favoured the rarest details. Chosen on the untagged protocol over the tagged
validation collections (`bench/heldout.py`; precision@3 0.014 with idf and votes to the first power, 0.027
like this, lexical neighbours; docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .hashtags import normalise_tag, tag_key
from .keywords import is_content_word
from .lexical import CJK_RUN
from .term_index import TermIndex

MIN_NOTES = 2
MAX_HELD_SHARE = 0.3
MAX_SHARE = 0.10
TITLE_WEIGHT = 2.0
VOTE_NEIGHBOURS = 10
VOTE_POWER = 2.0
# Words of web addresses, HTML and LaTeX that survive as terms of a note's text; they name no topic.
MARKUP_WORDS = frozenset("""http https www com org net html htm png jpg jpeg gif svg webp pdf img src href alt width
    height style div span class frac cfrac dfrac mathrm mathbf mathcal text left right begin end cdot quad""".split())


def is_word_tag(term: str) -> bool:
    """Whether a term reads as a tag: a CJK pair, or a word of letters first that is no stopword or markup."""
    if CJK_RUN.fullmatch(term):
        return True
    return is_content_word(term) and term[0].isalpha() and term not in MARKUP_WORDS and normalise_tag(term) == term


def in_band(index: TermIndex, term: str) -> bool:
    """Whether the vault holds the term in enough notes, and few enough, for it to be anyone's tag."""
    held = index.counts.get(term, 0)
    # max(): in a vault of a handful of notes, a word two of them share is still a topic, not noise.
    return MIN_NOTES <= held <= max(MIN_NOTES, MAX_HELD_SHARE * index.rows)


def weight_in_note(index: TermIndex, term: str, note_id: int) -> float | None:
    """The term's weight in this note (`TermIndex.holders`), or None when it may not be the note's tag: outside the band,
    or held by more than `MAX_SHARE` of the notes and weighing less here than in that many others."""
    if not in_band(index, term):
        return None
    ids, weights = index.holders(term)
    mine = weights[ids == note_id]
    if not len(mine):
        return None
    cap = max(MIN_NOTES, int(MAX_SHARE * index.rows))
    heavier = np.sum(weights > mine[0]) + np.sum((weights == mine[0]) & (ids < note_id))
    if heavier >= cap:
        return None
    return float(mine[0])


def within_share(index: TermIndex, tag: str, note_id: int) -> bool:
    """Whether a tag from elsewhere (the writer's, the tag head's) may go to this note without it reaching more
    than `MAX_SHARE` of the vault's notes: as a term, held by no more notes than that, or weighing among the
    heaviest that many here (`weight_in_note`). A tag that is no term of the vault passes."""
    term = tag.casefold()
    return index.counts.get(term, 0) <= max(MIN_NOTES, MAX_SHARE * index.rows) or weight_in_note(index, term, note_id) is not None


def vocabulary_tags(index: TermIndex, note_id: int, note_terms: Sequence[str], title_terms: Iterable[str],
                    neighbour_terms: Sequence[set[str]], exclude: Iterable[str] = (), limit: int = 3) -> list[str]:
    """Up to `limit` of the note's own terms as tags, best first. `note_terms` is its lexical row split,
    `neighbour_terms` the term sets of its related notes (closest first). Tags in `exclude`
    (spelling-insensitive) are never proposed."""
    taken = {tag_key(tag) for tag in exclude}
    title = set(title_terms)
    votes_from = neighbour_terms[:VOTE_NEIGHBOURS]
    scores = {}
    for term in dict.fromkeys(note_terms):
        if tag_key(term) in taken or not is_word_tag(term):
            continue
        weight = weight_in_note(index, term, note_id)
        if weight is None:
            continue
        if term in title:
            weight *= TITLE_WEIGHT
        votes = sum(1.0 / rank for rank, terms in enumerate(votes_from, 1) if term in terms)
        scores[term] = weight * (1.0 + votes) ** VOTE_POWER
    return sorted(scores, key=lambda term: (-scores[term], term))[:limit]
