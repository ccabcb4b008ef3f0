"""The NoteLLM model in PyTorch: a causal LM, the projection head, and one forward pass for both tasks.

One sequence per note serves both losses (NoteLLM, section 3.4). Its tokens are the engine's own:

    [prompt ids, ending at `"` of `The compression word is:"`] + [generation ids]

The embedding is the final hidden state (after the final norm) at the prompt's last token, projected to d
and L2-normalised — what `engine.model.NoteModel` computes with llama.cpp. A model trained with another
pooling (`engine.pooling`) averages the states of the note's own tokens instead, with the engine's weights.
For the generation task the engine tokenizes `prompt + cue` as one string, and BPE merges the prompt's
closing `"` with the cue's opening `"` (`:""`). To learn from exactly those ids in the same pass, the generation ids continue from
the longest common prefix of the two tokenizations: they get the positions the engine gives them, and a
4-D attention mask hides the prompt tokens past that prefix from them.

A bidirectional model (`TrainConfig.bidirectional`, GCL only) lets every prompt token attend to the whole
prompt, as llama.cpp does with causal attention off; the pooled state is still the prompt's last token.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from notellm.engine.pooling import LAST_TOKEN, note_tokens_start, pooling_weights
from notellm.engine.prompt import PROMPT_HEAD, PromptTokenizer, category_answer, category_cue, common_prefix_length, topics_answer, topics_cue

from .delta import file_identity
from .losses import AnswerGenerationLoss, SimilarityDistillationLoss, SymmetricInfoNCELoss, combine
from .losses.generation import IGNORE


@dataclass
class Example:
    ids: list[int]
    emb_index: int  # position of the prompt's last token
    prompt_len: int  # ids[:prompt_len] is the embedding prompt
    shared: int = 0  # generation ids continue after ids[:shared] (the common prefix)
    label_from: int = 0  # ids[label_from:] are answer tokens (0: no generation part)
    own_from: int = -1  # ids[own_from:prompt_len] are the note's own tokens (engine.pooling); -1: not known


def build_example(
    tokenizer: PromptTokenizer,
    eos_id: int,
    title: str,
    text: str,
    content_tokens: int,
    target_kind: str | None = None,
    targets: list[str] | None = None,
    folder: str = "",
) -> Example:
    """Token ids of one note in `folder`: the compression prompt, and the CSFT continuation when a target is given."""
    prompt = tokenizer.note_prompt(title, text, content_tokens, folder)
    ids = tokenizer.tokenize(prompt)
    own_from = note_tokens_start(tokenizer.tokenize(PROMPT_HEAD), ids)
    if not target_kind or not targets:
        return Example(ids, len(ids) - 1, len(ids), own_from=own_from)
    if target_kind == "topics":
        cue, answer = topics_cue(len(targets)), topics_answer(targets)
    else:
        cue, answer = category_cue(), category_answer(targets[0])
    with_cue = tokenizer.tokenize(prompt + cue)  # what engine.model.NoteModel feeds llama.cpp to generate
    full = tokenizer.tokenize(prompt + cue + answer)
    answer_ids = full[len(with_cue):] if full[: len(with_cue)] == with_cue else tokenizer.tokenize_plain(answer)
    shared = common_prefix_length(ids, with_cue)
    generation = with_cue[shared:] + answer_ids + [eos_id]
    return Example(ids + generation, len(ids) - 1, len(ids), shared, len(ids) + len(with_cue) - shared, own_from)


def collate(examples: list[Example], pad_id: int, pooling: str = LAST_TOKEN) -> dict[str, torch.Tensor]:
    """Right-padded batch with position ids, a boolean 4-D mask (True = may attend) and each row's pooling
    weights over its tokens."""
    length = max(len(e.ids) for e in examples)
    n = len(examples)
    input_ids = torch.full((n, length), pad_id, dtype=torch.long)
    positions = torch.zeros((n, length), dtype=torch.long)
    mask = torch.zeros((n, 1, length, length), dtype=torch.bool)
    pool_weights = torch.zeros((n, length))
    causal = torch.tril(torch.ones(length, length, dtype=torch.bool))
    label_rows, label_cols, label_ids = [], [], []
    for row, example in enumerate(examples):
        size = len(example.ids)
        input_ids[row, :size] = torch.tensor(example.ids)
        p = example.prompt_len
        own_from = example.emb_index if pooling == LAST_TOKEN else example.own_from
        pool_weights[row, own_from:p] = torch.from_numpy(pooling_weights(pooling, p - own_from))
        positions[row, :p] = torch.arange(p)
        positions[row, p:size] = torch.arange(example.shared, example.shared + size - p)
        mask[row, 0, :size, :size] = causal[:size, :size]
        if size > p:
            mask[row, 0, p:size, example.shared:p] = False  # generation ids never see the prompt's tail
            for index in range(example.label_from, size):
                label_rows.append(row)
                label_cols.append(index - 1)
                label_ids.append(example.ids[index])
        padding = torch.arange(size, length)
        mask[row, 0, padding, padding] = True  # padded queries attend to themselves (no NaN rows)
        positions[row, size:] = torch.arange(size, length)
    return {
        "input_ids": input_ids,
        "position_ids": positions,
        "attention_mask": mask,
        "pool_weights": pool_weights,
        "prompt_len": torch.tensor([e.prompt_len for e in examples], dtype=torch.long),
        "label_rows": torch.tensor(label_rows, dtype=torch.long),
        "label_cols": torch.tensor(label_cols, dtype=torch.long),
        "label_ids": torch.tensor(label_ids, dtype=torch.long) if label_ids else torch.zeros(0, dtype=torch.long),
    }


LOAD_OPTIONS = {"dtype": torch.float32, "attn_implementation": "sdpa"}


def load_causal_lm(base: str | Path, gradient_checkpointing: bool = False):
    """A float32 causal LM from a GGUF file (dequantized by transformers) or a Hugging Face folder. Each call
    gets a model of its own, but a GGUF is dequantized once per process while the file stays as it was: that
    takes 40 s for Gemma-3-270M on a 2-core CPU (transformers reads the file twice, walking its vocabulary
    entry by entry), and one process may build the same base several times (`load_run` for an export and then
    for a check, the Python API, the test suite). `forget_loaded_bases` frees the kept copy."""
    from transformers import AutoModelForCausalLM

    base = Path(base)
    if base.is_file():
        lm = copy.deepcopy(_dequantized_gguf(*file_identity(base)))
    else:
        lm = AutoModelForCausalLM.from_pretrained(str(base), **LOAD_OPTIONS)
    lm.config.use_cache = False
    if gradient_checkpointing:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return lm


@functools.lru_cache(maxsize=1)
def _dequantized_gguf(path: str, size: int, mtime_ns: int):
    from transformers import AutoModelForCausalLM

    path = Path(path)
    return AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, **LOAD_OPTIONS)


def forget_loaded_bases() -> None:
    """Free the base `load_causal_lm` keeps (0.5 GB for SmolLM2-135M, 1 GB for Gemma-3-270M), for a process
    that will not build it again, such as a training run that holds its own model for hours."""
    _dequantized_gguf.cache_clear()


class NoteLLM(nn.Module):
    """Causal LM + projection head + the two losses, so that one module is what DDP/Accelerate wraps."""

    def __init__(self, lm: nn.Module, dim: int = 128, alpha: float = 0.01, init_log_scale: float = 3.0,
                 distill_weight: float = 0.0, distill_temperature: float = 0.05, bidirectional: bool = False,
                 pooling: str = LAST_TOKEN):
        super().__init__()
        self.lm = lm
        self.bidirectional = bidirectional
        self.pooling = pooling  # how `collate` must weigh the states this model's batches pool
        hidden = lm.config.hidden_size
        self.projection = nn.Linear(hidden, dim, bias=False)
        self.contrastive = SymmetricInfoNCELoss(init_log_scale)
        self.generation = AnswerGenerationLoss()
        self.distillation = SimilarityDistillationLoss(distill_temperature)
        self.alpha = alpha
        self.distill_weight = distill_weight

    def _causal_lm(self) -> nn.Module:
        return self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm

    def hidden_states(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Final hidden states (after the final norm) for every token: (n, length, hidden)."""
        decoder = self._causal_lm().model  # LoRA layers are injected in place, so this runs them
        mask = batch["attention_mask"]
        if self.bidirectional:
            in_prompt = torch.arange(mask.shape[-1], device=mask.device)[None, :] < batch["prompt_len"][:, None]
            mask = mask | (in_prompt[:, None, :, None] & in_prompt[:, None, None, :])
        output = decoder(input_ids=batch["input_ids"], attention_mask=mask, position_ids=batch["position_ids"])
        return output.last_hidden_state

    def pool(self, hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The projected, L2-normalised weighted sum of each row's states (`collate`'s pooling weights)."""
        pooled = torch.einsum("nl,nlh->nh", weights.to(hidden.dtype), hidden)
        return F.normalize(self.projection(pooled), dim=-1)

    def embed(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.pool(self.hidden_states(batch), batch["pool_weights"])

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rows [0, B) and [B, 2B) are the two sides of B related pairs (B = `pairs` in the batch, else half
        the rows); rows from 2B on are hard negatives. With `teacher` (rows, d') and `has_teacher` (rows,) in
        the batch, the distillation term is added with `distill_weight`."""
        hidden = self.hidden_states(batch)
        embeddings = self.pool(hidden, batch["pool_weights"])
        half = int(batch["pairs"]) if "pairs" in batch else embeddings.shape[0] // 2
        negatives = embeddings[2 * half:] if embeddings.shape[0] > 2 * half else None
        l_cl = self.contrastive(embeddings[:half], embeddings[half:2 * half], negatives)
        answer_hidden = hidden[batch["label_rows"], batch["label_cols"]]
        labels = batch["label_ids"] if batch["label_ids"].numel() else torch.full((0,), IGNORE, device=hidden.device)
        l_gen = self.generation(answer_hidden, self._causal_lm().lm_head, labels)
        loss = combine(l_cl, l_gen, self.alpha)
        l_distill = loss.new_zeros(())
        if "teacher" in batch:
            l_distill = self.distillation(embeddings, batch["teacher"], batch["has_teacher"])
            loss = loss + self.distill_weight * l_distill
        return {"loss": loss, "contrastive": l_cl, "generation": l_gen, "distillation": l_distill}
