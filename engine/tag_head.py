"""Hashtags a model learnt from tagged notes: one direction per tag in the model's embedding space.

A NoteLLM model file may carry a tag head in its metadata (`gguf_metadata.TAG_HEAD_TAGS_KEY` and
`TAG_HEAD_VECTORS_KEY`), built by `notellm-train tag-head` from the training corpus's tagged notes: for each
tag, the mean direction of the embeddings of the notes that carry it. It lets the model name a note's topics
in a vault that has no tags at all, for the cost of one small matrix product per note.

A note's tags are the directions nearest its embedding; a tag that fits every note of a vault, its
subject, goes only to the notes it fits best, as a word of the vault does (`engine.vocabulary_tags`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .hashtags import tag_key
from .vocabulary_tags import MAX_SHARE, MIN_NOTES

# The nearest tags considered for a note: further ones fit it too loosely to be worth a chip.
CANDIDATES = 50


@dataclass(frozen=True)
class TagHead:
    """Tags and their unit directions (one row per tag) in the embedding space of the model that carries them."""

    tags: tuple[str, ...]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.tags):
            raise ValueError(f"a tag head needs one vector per tag: {len(self.tags)} tags, vectors {self.vectors.shape}")

    @classmethod
    def from_metadata(cls, tags, values) -> "TagHead":
        """From the two metadata values (`TAG_HEAD_TAGS_KEY`, `TAG_HEAD_VECTORS_KEY`); ValueError when they do not fit."""
        tags = tuple(str(tag) for tag in tags)
        return cls(tags, np.asarray(values, dtype=np.float32).reshape(len(tags), -1))

    @property
    def dimensions(self) -> int:
        return self.vectors.shape[1]

    def rank(self, embedding: np.ndarray, vault: np.ndarray | None = None, limit: int = 3, exclude: Iterable[str] = ()) -> list[str]:
        """Up to `limit` of the `CANDIDATES` tags nearest the note's embedding, best first; none in `exclude`
        (spelling-insensitive). With `vault`, the vectors of the vault's notes (this one among them), a tag
        goes only to the `MAX_SHARE` of them it fits best (at least `MIN_NOTES`), as a vault's word does
        (`engine.vocabulary_tags`)."""
        scores = self.vectors @ np.asarray(embedding, dtype=np.float32)
        taken = {tag_key(tag) for tag in exclude}
        rows = [row for row in np.argsort(-scores, kind="stable") if tag_key(self.tags[row]) not in taken][:CANDIDATES]
        if vault is not None and len(rows):
            cap = max(MIN_NOTES, int(MAX_SHARE * len(vault)))
            closer = np.sum(vault @ self.vectors[rows].T > scores[rows] + 1e-6, axis=0)  # notes it fits better than this one
            rows = [row for row, count in zip(rows, closer) if count < cap]
        return [self.tags[row] for row in rows[:limit]]
