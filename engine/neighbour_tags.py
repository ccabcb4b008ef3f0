"""Hashtags the related notes already carry: the vault's own tags, voted for by a note's nearest neighbours.

A tag is proposed for a note when notes that rank high among its related notes carry it. Votes weigh
1 / rank (the closest neighbour counts 1, the tenth 0.1), so a tag needs one close neighbour or several
further ones; a note's own tags are never proposed. The spelling is the one the vault uses most.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

from .hashtags import tag_key

NEIGHBOURS = 10
MIN_VOTES = 0.5


def neighbour_tags(neighbour_tag_lists: Iterable[list[str]], own_tags: Iterable[str] = (), limit: int = 3,
                   min_votes: float = MIN_VOTES) -> list[str]:
    """Up to `limit` tags from the tag lists of a note's related notes, closest first; best voted first."""
    own = {tag_key(tag) for tag in own_tags}
    votes: dict[str, float] = defaultdict(float)
    spellings: dict[str, Counter] = defaultdict(Counter)
    for rank, tags in enumerate(neighbour_tag_lists, 1):
        for key in {tag_key(tag) for tag in tags} - own - {""}:
            votes[key] += 1.0 / rank
        for tag in tags:
            spellings[tag_key(tag)][tag] += 1
    best = sorted((key for key, total in votes.items() if total >= min_votes), key=lambda key: (-votes[key], key))
    return [spellings[key].most_common(1)[0][0] for key in best[:limit]]
