"""Batched last-token readouts with a shared prompt head: the one place below llama-cpp-python's public API.

Every note prompt starts with the same instruction (`prompt.PROMPT_HEAD`, ~30 tokens). Its keys and
values are computed once per model load into a spare KV stream and copied into each note's stream
before the note's own tokens are decoded, so a note costs only its own tokens.

llama-cpp-python's `Llama` gives an embedding context one KV cache shared by all sequences, where each
token of a batch attends over every prompt's cells (masked): 148 tok/s for 8 prompts against 211 for
one. A cache split into one stream per sequence (`kv_unified = False`) keeps the batch and is faster than
one prompt at a time (229 tok/s, SmolLM2 Q4_1 on 2 cores; docs/design.md). The public API offers neither,
so this module builds that context from `Llama`'s private `_ctx`/`_model` and fills llama.cpp batches
itself. It was written against llama-cpp-python `WRITTEN_FOR`; tests/test_model.py pins that version,
so an upgrade is a deliberate step that reruns the parity tests.

A model trained with bidirectional attention over the note prompt runs with llama.cpp's causal mask off
(`llama_set_causal_attn`): every token of a sequence then sees the whole of it, within its own stream.
The head's states then depend on the note that follows, so nothing is shared and each prompt is decoded whole.

The context runs with embedding mode off and only each prompt's last token marked for output: llama.cpp
then returns that token's logits and skips the output layer for every other token, which embedding mode
would run on all of them. `engine.logit_readout` maps those logits back to the embedding. A model that
pools several states (`engine.pooling`) has each of the note's own tokens marked instead; the readout is
linear, so the weighted mean of their logits reads back as the weighted mean of their states.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .pooling import LAST_TOKEN, note_tokens_start, pooling_weights

WRITTEN_FOR = "0.3.36"


class BatchEmbedder:
    """Embeds up to `sequences` token lists per decode, each in its own KV stream, reusing a cached head."""

    def __init__(self, llama, sequences: int, sequence_tokens: int, causal_attention: bool = True, pooling: str = LAST_TOKEN):
        import llama_cpp
        from llama_cpp._internals import LlamaBatch, LlamaContext

        self.sequences = sequences
        self.vocabulary = llama.n_vocab()
        self.head_sequence = sequences  # the spare stream that holds the shared head's cache
        params = llama.context_params
        params.kv_unified = False
        params.embeddings = False  # logits of the marked tokens only (module docstring)
        params.n_seq_max = sequences + 1
        params.n_ctx = (sequences + 1) * sequence_tokens  # llama.cpp gives each stream n_ctx / n_seq_max cells
        params.n_batch = params.n_ubatch = sequences * sequence_tokens
        self._llama = llama
        shared_cache_context, llama._ctx = llama._ctx, LlamaContext(model=llama._model, params=params, verbose=False)
        shared_cache_context.close()
        self._ctx = llama._ctx.ctx
        self.causal_attention = causal_attention
        self.pooling = pooling
        llama_cpp.llama_set_causal_attn(self._ctx, causal_attention)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = LlamaBatch(n_tokens=params.n_batch, embd=0, n_seq_max=1, verbose=False)
        self._prompt_head: list[int] = []  # what every prompt starts with: a prompt's own tokens follow it

    @property
    def _cached_head(self) -> list[int]:
        """The part of the prompt head whose cache every prompt reuses: none for a bidirectional model, whose
        head states depend on the note after it."""
        return self._prompt_head if self.causal_attention else []

    def close(self) -> None:
        self._batch.close()

    def set_head(self, ids: list[int]) -> None:
        """Decode the tokens every prompt starts with once; later prompts copy their cache instead (causal models only)."""
        import llama_cpp

        llama_cpp.llama_memory_clear(self._memory, True)
        self._prompt_head = list(ids)
        if self._cached_head:
            self._decode([(self.head_sequence, self._cached_head, 0, len(self._cached_head))], outputs=False)

    def embed(self, prompts: list[list[int]], readout: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`readout` of each prompt's pooled logits (its last token's, or its own tokens' weighted mean;
        `engine.pooling`), one row per prompt."""
        import llama_cpp

        rows = []
        for start in range(0, len(prompts), self.sequences):
            chunk = prompts[start : start + self.sequences]
            pieces = []
            for sequence, ids in enumerate(chunk):
                # Never reuse the whole prompt: its last token must be decoded for its embedding.
                reused = note_tokens_start(self._cached_head, ids)
                pooled_from = len(ids) - 1 if self.pooling == LAST_TOKEN else note_tokens_start(self._prompt_head, ids)
                llama_cpp.llama_memory_seq_rm(self._memory, sequence, -1, -1)
                if reused:
                    # Across streams llama.cpp copies whole streams (the copy runs at the next decode).
                    llama_cpp.llama_memory_seq_cp(self._memory, self.head_sequence, sequence, -1, -1)
                    llama_cpp.llama_memory_seq_rm(self._memory, sequence, reused, -1)
                pieces.append((sequence, ids[reused:], reused, pooled_from - reused))
            pooled = []
            for positions in self._decode(pieces, outputs=True):
                logits = np.stack([np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx, position), shape=(self.vocabulary,))
                                   for position in positions])
                pooled.append(pooling_weights(self.pooling, len(positions)) @ logits)
            rows.append(readout(np.stack(pooled)))
        return np.concatenate(rows).astype(np.float32, copy=False)

    def _decode(self, pieces: list[tuple[int, list[int], int, int]], outputs: bool) -> list[list[int]]:
        """One llama_decode of (sequence id, token ids, position of the first id, first id marked) pieces; with
        `outputs`, each piece's ids from the marked one on are marked for output. Returns each piece's marked
        positions in the batch."""
        import llama_cpp

        batch = self._batch.batch
        count, marked = 0, []
        for sequence, ids, first_position, marked_from in pieces:
            positions = []
            for offset, token in enumerate(ids):
                batch.token[count] = token
                batch.pos[count] = first_position + offset
                batch.n_seq_id[count] = 1
                batch.seq_id[count][0] = sequence
                batch.logits[count] = outputs and offset >= marked_from
                if outputs and offset >= marked_from:
                    positions.append(count)
                count += 1
            marked.append(positions)
        batch.n_tokens = count
        code = llama_cpp.llama_decode(self._ctx, batch)
        batch.n_tokens = 0
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
        return marked
