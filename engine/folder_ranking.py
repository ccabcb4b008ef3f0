"""Related notes near the note's folder: the one rule for how close two folders of a vault are.

Many vaults are filed by subject (a folder per course, per project, per topic), and their links follow the
folders: on the validation collection ivanstylish/ITMO-Study-Notes 44% of the links join two notes of one
folder, where 1.4% of the note pairs share one. The fused ranking's candidates, reordered nearest folder
first (`nearest_first`), join the fusion as a third list at the vault's folder weight, which its own links
choose (`engine.fusion_weight`): a vault whose links cross its folders gets weight 0 and the ranking it had.
"""

from __future__ import annotations

import math
from typing import Mapping


def folder_parts(folder: str) -> tuple[str, ...]:
    """A vault-relative folder ('' at the vault's top, as `engine.vault.folder_of` gives it) as its names."""
    return tuple(folder.split("/")) if folder else ()


def folder_distance(first: str, second: str) -> int:
    """Steps through the folder tree from one folder to the other: up to the folder holding both, then down.
    0 for one folder, 2 for two folders side by side."""
    a, b = folder_parts(first), folder_parts(second)
    shared = 0
    for name_a, name_b in zip(a, b):
        if name_a != name_b:
            break
        shared += 1
    return len(a) + len(b) - 2 * shared


def nearest_first(candidates: list[int], folders: Mapping[int, str], folder: str) -> list[int]:
    """`candidates` (note ids, best first) reordered by their folder's distance from `folder`, keeping their
    order within each distance; a candidate whose folder is not in `folders` (gone meanwhile) goes last."""
    distance = {note: folder_distance(folders[note], folder) if note in folders else math.inf for note in candidates}
    return sorted(candidates, key=distance.__getitem__)  # stable: the fused order within a distance
