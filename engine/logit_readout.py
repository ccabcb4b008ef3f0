"""A prompt's embedding read back from its last token's logits, so that llama.cpp runs the output layer once a prompt.

The embedding is the final-normed hidden state h at the prompt's last token, projected (`P h`). llama.cpp's
embedding mode returns h, but it outputs every token of a batch and runs the output layer (vocabulary ×
width) on each of them before it throws those logits away (ggml-org/llama.cpp#24713); for the shipped
6-layer model that is more work than the six layers. With embedding mode off and only each prompt's last
token marked for output, llama.cpp skips both, and returns that token's logits z = W h, where W is the
model's output matrix (`output.weight`, or the token embeddings it is tied to). W has full column rank, so
h = (WᵀW)⁻¹ Wᵀ z, and the engine keeps only R = P (WᵀW)⁻¹ Wᵀ: one matrix of P's rows × the vocabulary.

This holds for any model whose logits are W h and nothing more: a soft cap on the logits (Gemma 2) would
break it. tests/test_model.py (the shipped F16 model) and tests/test_index.py (the PyPI Q4_1 base) compare
the result with llama-cpp-python's own embedding mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .gguf_metadata import tensor_rows

OUTPUT_MATRIX = ("output.weight", "token_embd.weight")  # an untied output layer first, else the tied embeddings


class LogitReadout:
    """Maps last-token logits (one row per prompt) to the projected hidden state, `projection` @ h."""

    def __init__(self, output_blocks: Callable[[], Iterable[np.ndarray]], projection: np.ndarray | None):
        """`output_blocks()` yields the output matrix's rows (one per vocabulary entry) block by block; it is
        read twice, so that the float32 matrix never sits in memory whole."""
        gram = None
        for block in output_blocks():
            part = (block.T @ block).astype(np.float64)
            gram = part if gram is None else gram + part
        left = np.eye(gram.shape[0]) if projection is None else projection.astype(np.float64)
        solved = np.linalg.solve(gram, left.T).T.astype(np.float32)  # P (WᵀW)⁻¹; WᵀW is symmetric
        self.matrix = np.concatenate([solved @ block.T for block in output_blocks()], axis=1)

    @classmethod
    def of_model(cls, path: Path, projection: np.ndarray | None) -> "LogitReadout":
        return cls(lambda: tensor_rows(path, OUTPUT_MATRIX), projection)

    @property
    def vocabulary(self) -> int:
        return self.matrix.shape[1]

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        return logits @ self.matrix.T
