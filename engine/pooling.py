"""Which of a note prompt's final hidden states make its embedding: one rule for the engine and for training.

NoteLLM (arXiv 2403.01744) reads the embedding at the compression token, the prompt's last token (`last`).
A model may instead be trained to average the states of the note's own tokens, everything after the prompt
head that every note shares (`engine.prompt.PROMPT_HEAD`) up to and including that last token: `mean`
weighs them alike, `weighted_mean` in proportion to their position (SGPT, arXiv 2202.08904: in a causal
model a later token has seen more of the note). The model file records its pooling
(`gguf_metadata.POOLING_KEY`) and the engine pools so.
"""

from __future__ import annotations

import numpy as np

from .prompt import common_prefix_length

LAST_TOKEN = "last"  # the paper's pooling, and every model's unless its file says otherwise
POOLINGS = (LAST_TOKEN, "mean", "weighted_mean")


def note_tokens_start(head: list[int], ids: list[int]) -> int:
    """Where a prompt's own tokens start: after those it shares with the prompt head's ids (its last token is
    always its own, since the embedding is read there)."""
    return min(common_prefix_length(head, ids), len(ids) - 1)


def pooling_weights(pooling: str, count: int) -> np.ndarray:
    """The weight of each of a prompt's `count` own tokens in its embedding, in order; they sum to 1."""
    if pooling == LAST_TOKEN:
        weights = np.zeros(count)
        weights[-1] = 1.0
    elif pooling == "mean":
        weights = np.ones(count)
    elif pooling == "weighted_mean":
        weights = np.arange(1, count + 1, dtype=np.float64)
    else:
        raise ValueError(f"unknown pooling {pooling!r} (one of {', '.join(POOLINGS)})")
    return (weights / weights.sum()).astype(np.float32)
