"""Hashtags the related notes already carry: the vault's own tags, voted for by a note's nearest neighbours.

A tag is proposed for a note when notes that rank high among its related notes carry it. Votes weigh
1 / rank (the closest neighbour counts 1, the tenth 0.1) over the `NEIGHBOURS` closest notes, and a tag
needs `MIN_VOTES`: one closest neighbour, or several further ones. When no tag gets there, the single
best-voted tag of the `FALLBACK_NEIGHBOURS` closest notes is proposed, so that a note whose neighbours
are untagged still gets a suggestion. A note's own tags are never proposed; the spelling is the one the
vault uses most. The constants were chosen on the validation collections (docs/benchmarks.md).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable, Sequence

from .hashtags import tag_key

NEIGHBOURS = 10
FALLBACK_NEIGHBOURS = 50
MIN_VOTES = 1.0


def _votes(tag_lists: Iterable[list[str]], own: set[str]) -> dict[str, float]:
    votes: dict[str, float] = defaultdict(float)
    for rank, tags in enumerate(tag_lists, 1):
        for key in {tag_key(tag) for tag in tags} - own - {""}:
            votes[key] += 1.0 / rank
    return votes


def neighbour_tags(neighbour_tag_lists: Sequence[list[str]], own_tags: Iterable[str] = (), limit: int = 3,
                   min_votes: float = MIN_VOTES, fallback: bool = True) -> list[str]:
    """Up to `limit` tags from the tag lists of a note's related notes (closest first), best voted first.
    Without `fallback`, a tag short of `min_votes` is never proposed."""
    own = {tag_key(tag) for tag in own_tags}
    spellings: dict[str, Counter] = defaultdict(Counter)
    for tags in neighbour_tag_lists:
        for tag in tags:
            spellings[tag_key(tag)][tag] += 1
    votes = _votes(neighbour_tag_lists[:NEIGHBOURS], own)
    best = sorted((key for key, total in votes.items() if total >= min_votes), key=lambda key: (-votes[key], key))[:limit]
    if not best and fallback:
        further = _votes(neighbour_tag_lists[:FALLBACK_NEIGHBOURS], own)
        best = sorted(further, key=lambda key: (-further[key], key))[:1]
    return [spellings[key].most_common(1)[0][0] for key in best]
