"""A hashtag from the folder a note is filed in, for notes whose related notes carry no tags.

Where a vault has no tags, its folders are the grouping its owner chose, and many vaults that do tag name
their tags after their folders (`k78ma`'s quartz: 87% of its tagged notes carry their folder's name). So the note's
folder name (its last part, made a tag by `engine.hashtags.normalise_tag`) is a candidate, but only where the
folders of that name hold at most `MAX_SHARE` of the vault's notes (as no word may go to more,
`engine.vocabulary_tags`) and the note is not at the vault's top. On the untagged protocol over the 21 tagged
training collections of at most 800 notes it doubled precision@3 of the word step (0.042 -> 0.084, related notes
by the lexical match, no model); the four validation collections' folder names are none of their tags and
their score is unchanged (`experiments/folder_names.py`, docs/experiments.md 2026-12-03).
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping

from .hashtags import normalise_tag, tag_key
from .vocabulary_tags import MAX_SHARE


def folder_name(folder: str) -> str | None:
    """The tag a folder's name makes (vault-relative folder, '' at the top: None), or None if it makes none."""
    return normalise_tag(folder.rsplit("/", 1)[-1]) if folder else None


def notes_by_folder_name(notes_per_folder: Mapping[str, int]) -> Counter:
    """{tag key of a folder name: notes under folders of that name, wherever they are} from {folder: notes}."""
    counts: Counter = Counter()
    for folder, notes in notes_per_folder.items():
        name = folder_name(folder)
        if name is not None:
            counts[tag_key(name)] += notes
    return counts


def folder_tag(folder: str, by_name: Mapping[str, int], vault_notes: int) -> str | None:
    """The note's folder name as a tag, if the folders of that name (`notes_by_folder_name`) hold few enough notes."""
    name = folder_name(folder)
    if name is None or by_name.get(tag_key(name), 0) > MAX_SHARE * vault_notes:
        return None
    return name
