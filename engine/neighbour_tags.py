"""Hashtags the related notes already carry: the vault's own tags, voted for by a note's nearest neighbours.

A tag is proposed for a note when notes that rank high among its related notes carry it. Votes weigh
1 / rank (the closest neighbour counts 1, the tenth 0.1) over the `NEIGHBOURS` closest notes, and as many
tags are proposed as reach `MIN_VOTES` there (one closest neighbour, or several further ones), less any whose
score (below) is under `KEEP_SHARE` of the best tag's. When none does, one tag is proposed, so that a note
whose neighbours are untagged still gets a suggestion. Which
tags: the best by those votes plus `FAR_SHARE` of the votes over the `FALLBACK_NEIGHBOURS` closest (plus
`VOTE_FLOOR`), times `NAMED_FACTOR` for a tag whose name is one of the note's own words, plus
`LINKED_WEIGHT` × the share of the notes it links with (either way) that carry the tag and `FOLDER_WEIGHT` ×
the share of the other notes in its folder that do: a vault's links and folders are its owner's own
grouping, and tags follow them. A folder votes only below the vault's top (`folder_votes`), where it is
everything not yet filed. A note's own tags are never proposed; the spelling is the one the vault uses
most. The constants were chosen on the corpus's tagged training collections and checked on the validation
collections (docs/benchmarks.md, docs/experiments.md).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable, Sequence

from .hashtags import tag_key

NEIGHBOURS = 10
FALLBACK_NEIGHBOURS = 50
MIN_VOTES = 1.0
# On the tagged protocol (a), choosing by these rather than by the closest neighbours' votes alone raised
# precision@3 from 0.680 to 0.694, and lowered it on none of the four tagged validation collections
# (8 seeded samples of 50 notes each; experiments/tagged_rules.py, docs/experiments.md 2026-12-03).
FAR_SHARE = 0.1
VOTE_FLOOR = 0.05
NAMED_FACTOR = 1.65  # e^0.5: the screen's additive 0.5 on the log of the votes
# Chosen on the 21 tagged training collections of at most 800 notes (related notes by the lexical match: P@3
# 0.609 -> 0.735), then checked on the four tagged validation collections: 0.679 -> 0.739, none lower
# (experiments/linked_tags.py, docs/experiments.md 2026-12-03). The folder carries most of it; 3 to 6 scored alike.
# Screened again over the related notes the panel shows, which the hashtags read since (`--train --panel`, 2026-12-04):
# still the best of the grid, 0.760 against 0.736 for the votes alone.
LINKED_WEIGHT = 1.0
FOLDER_WEIGHT = 4.0
# Of the tags the votes' count gives, those scoring under this share of the best one are left out: a second or
# third tag that weak is wrong more often than right. On protocol (a), right - wrong tags a note went from 0.800
# to 0.879 on the tagged training collections (the best ratio of 0.3-0.7 there) and from 0.794 to 0.822 on the
# validation collections (precision@3 0.749 -> 0.766, recall@3 0.667 -> 0.658, 1.56 -> 1.48 tags a note;
# experiments/tag_count.py, docs/experiments.md 2026-12-05).
KEEP_SHARE = 0.5


def tag_votes(tag_lists: Iterable[list[str]], own: set[str]) -> dict[str, float]:
    """{tag key: the sum of 1 / rank over the tag lists (closest first) that carry it}, `own` keys left out."""
    votes: dict[str, float] = defaultdict(float)
    for rank, tags in enumerate(tag_lists, 1):
        for key in {tag_key(tag) for tag in tags} - own - {""}:
            votes[key] += 1.0 / rank
    return votes


def tag_shares(tag_lists: Sequence[list[str]], own: set[str]) -> dict[str, float]:
    """{tag key: the share of the tag lists that carry it}, `own` keys left out ({} for no lists)."""
    if not tag_lists:
        return {}
    counts: Counter = Counter()
    for tags in tag_lists:
        counts.update({tag_key(tag) for tag in tags} - own - {""})
    return {key: count / len(tag_lists) for key, count in counts.items()}


def folder_votes(folder: str) -> bool:
    """Whether the notes of a note's folder (vault-relative, '' at the top) vote for its tags."""
    return folder != ""


def tag_scores(neighbour_tag_lists: Sequence[list[str]], own: set[str], note_terms: Iterable[str] = (),
               linked_tag_lists: Sequence[list[str]] = (), folder_tag_lists: Sequence[list[str]] = ()) -> dict[str, float]:
    """{tag key: how strongly the note's related notes (closest first), the notes it links with and its folder's
    notes vote for it}, `own` keys left out: the order `neighbour_tags` chooses by."""
    near = tag_votes(neighbour_tag_lists[:NEIGHBOURS], own)
    further = tag_votes(neighbour_tag_lists[:FALLBACK_NEIGHBOURS], own)
    linked, folder = tag_shares(linked_tag_lists, own), tag_shares(folder_tag_lists, own)
    named = {tag_key(term) for term in note_terms}
    return {key: (near.get(key, 0.0) + FAR_SHARE * further.get(key, 0.0) + VOTE_FLOOR) * (NAMED_FACTOR if key in named else 1.0)
            + LINKED_WEIGHT * linked.get(key, 0.0) + FOLDER_WEIGHT * folder.get(key, 0.0)
            for key in {*further, *linked, *folder}}


def vote_count(neighbour_tag_lists: Sequence[list[str]], own: set[str], limit: int, min_votes: float = MIN_VOTES) -> int:
    """How many tags the related notes' votes give: those reaching `min_votes` over the `NEIGHBOURS` closest, at most `limit`."""
    return min(limit, sum(total >= min_votes for total in tag_votes(neighbour_tag_lists[:NEIGHBOURS], own).values()))


def spelled(keys: Iterable[str], tag_lists: Iterable[list[str]]) -> list[str]:
    """Each tag key in the spelling the tag lists use most."""
    spellings: dict[str, Counter] = defaultdict(Counter)
    for tags in tag_lists:
        for tag in tags:
            spellings[tag_key(tag)][tag] += 1
    return [spellings[key].most_common(1)[0][0] for key in keys]


def neighbour_tags(neighbour_tag_lists: Sequence[list[str]], own_tags: Iterable[str] = (), limit: int = 3,
                   min_votes: float = MIN_VOTES, fallback: bool = True, note_terms: Iterable[str] = (),
                   linked_tag_lists: Sequence[list[str]] = (), folder_tag_lists: Sequence[list[str]] = ()) -> list[str]:
    """Up to `limit` tags from the tag lists of a note's related notes (closest first), best first; `note_terms`
    are the note's own words (`engine.lexical`), `linked_tag_lists` the tag lists of the notes it links to or
    that link to it, `folder_tag_lists` those of the other notes in its folder (none where `folder_votes` says
    no). How many tags: as the related notes' votes give (`vote_count`), less those scoring under `KEEP_SHARE` of
    the best. Without `fallback`, no tag is proposed unless one reaches `min_votes`."""
    own = {tag_key(tag) for tag in own_tags}
    count = vote_count(neighbour_tag_lists, own, limit, min_votes)
    if not count and not fallback:
        return []
    score = tag_scores(neighbour_tag_lists, own, note_terms, linked_tag_lists, folder_tag_lists)
    best = sorted(score, key=lambda key: (-score[key], key))[:max(count, 1)]
    best = [key for key in best if score[key] >= KEEP_SHARE * score[best[0]]]
    return spelled(best, (*neighbour_tag_lists, *linked_tag_lists, *folder_tag_lists))
