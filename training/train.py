"""Train NoteLLM (GCL + CSFT) from a base causal LM: one loop, top to bottom.

The loop runs unchanged on one CPU, one GPU, or several through `accelerate launch` (Accelerate places the
model and wraps it for DDP; each process takes its own slice of the step's pairs). The configuration is a
dataclass (`train_config.TrainConfig`) saved inside every checkpoint; `--resume` continues from the last one exactly
(same data order).
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import os
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch

from notellm.engine.model import model_traits, read_model_header, read_notellm_metadata
from notellm.engine.pooling import LAST_TOKEN, POOLINGS
from notellm.engine.prompt import PROMPT_VERSION, PromptTokenizer, llama_prompt_tokenizer
from notellm.engine.training_report import CHECKPOINT_FILE, RUN_CONFIG_FILE, TRAINING_LOG_FILE, TrainingStep
from notellm.engine.vault import folder_of

from .data import Dataset
from .hard_negatives import HardNegatives
from .model import Example, NoteLLM, build_example, collate, forget_loaded_bases, load_causal_lm
from .train_config import TrainConfig, TrainError


def load_tokenizer(path: Path, keyword_line: int = 0, folder_line: bool = False) -> tuple[PromptTokenizer, int]:
    """The engine's PromptTokenizer over llama.cpp's vocabulary (ids equal what llama.cpp is fed) and EOS, for
    prompts with `keyword_line` keywords and the folder line or not (`TrainConfig.keyword_line`, `.folder_line`)."""
    import llama_cpp

    llama = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    return llama_prompt_tokenizer(llama, keyword_line, folder_line), int(llama.token_eos())


def base_head(base: Path, dim: int) -> torch.Tensor | None:
    """The projection head a NoteLLM GGUF base carries (so personalizing continues from the trained model), or None."""
    if not base.is_file():
        return None
    _, projection, _ = read_notellm_metadata(base)
    if projection is None:
        return None
    if projection.shape[0] != dim:
        raise TrainError(f"{base.name} carries a {projection.shape[0]}-d head; train it with --dim {projection.shape[0]}")
    return torch.from_numpy(projection.copy())


def keep_first_layers(lm, layers: int) -> None:
    """Cut a causal LM to its first `layers` decoder blocks, in place (the final norm and LM head stay)."""
    decoder = lm.model
    if layers > len(decoder.layers):
        raise TrainError(f"the base has {len(decoder.layers)} layers; cannot keep {layers}")
    decoder.layers = decoder.layers[:layers]
    lm.config.num_hidden_layers = layers
    if getattr(lm.config, "layer_types", None):
        lm.config.layer_types = lm.config.layer_types[:layers]


def check_attention(config: TrainConfig) -> None:
    """A bidirectional model cannot write (llama.cpp generates causally); a bidirectional base stays so."""
    if config.bidirectional and config.alpha > 0 and config.gen_fraction > 0:
        raise TrainError("--bidirectional trains the embedding only: add --alpha 0")
    base = config.resolved_base()
    if not config.bidirectional and base.is_file() and not model_traits(base).causal_attention:
        raise TrainError(f"{base.name} runs with bidirectional attention: add --bidirectional --alpha 0")


def check_pooling(config: TrainConfig) -> None:
    """A known pooling; a NoteLLM base that pools otherwise than at the last token keeps its pooling unless
    another is chosen (personalize passes the base's own), so a forgotten option cannot switch it back; and a base
    that reads each note's folder keeps reading it."""
    if config.pooling not in POOLINGS:
        raise TrainError(f"--pooling {config.pooling}: one of {', '.join(POOLINGS)}")
    base = config.resolved_base()
    header = read_model_header(base) if base.is_file() else None
    if header is not None and header.traits.pooling != LAST_TOKEN and config.pooling == LAST_TOKEN:
        raise TrainError(f"{base.name} pools its embedding by {header.traits.pooling}: add --pooling {header.traits.pooling}")
    if header is not None and header.traits.folder_line and not config.folder_line:
        raise TrainError(f"{base.name} reads each note's folder: add --folder-line")


def build_model(config: TrainConfig) -> NoteLLM:
    """Base LM (cut to `layers`, + LoRA unless full) + the base's own head if it has one, else a fresh one; seeded."""
    check_attention(config)
    check_pooling(config)
    lm = load_causal_lm(config.resolved_base(), config.grad_checkpointing)
    if config.layers:
        keep_first_layers(lm, config.layers)
    if config.full:
        lm.requires_grad_(True)
        # The token embeddings stay: they are a third of the cut model and tied to the LM head that names tags,
        # so a full run's slim checkpoint holds the blocks only (42 MB at F16 for 6 of SmolLM2's).
        lm.get_input_embeddings().requires_grad_(False)
    else:
        from peft import LoraConfig, get_peft_model

        lm = get_peft_model(
            lm,
            LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, target_modules=list(config.lora_targets),
                       lora_dropout=0.0, bias="none"),
        )
    torch.manual_seed(config.seed)
    model = NoteLLM(lm, config.dim, config.alpha, config.init_log_scale, config.distill_weight, config.distill_temperature,
                    config.bidirectional, config.pooling)
    head = base_head(config.resolved_base(), config.dim)
    if head is not None:
        with torch.no_grad():
            model.projection.weight.copy_(head)
    return model


def load_trained_weights(model: NoteLLM, run: Path) -> None:
    """Copy a run's trained weights (LoRA factors, head, temperature) into `model`, which must have their shapes."""
    path = Path(run) / CHECKPOINT_FILE
    if not path.exists():
        raise TrainError(f"no checkpoint in {run}")
    weights = torch.load(path, map_location="cpu", weights_only=False)["model"]
    own = model.state_dict()
    wrong = [name for name, tensor in weights.items() if name not in own or own[name].shape != tensor.shape]
    if wrong:
        raise TrainError(f"{run} does not fit this model (LoRA rank, layers or --dim differ): {wrong[0]}")
    model.load_state_dict({name: tensor.float() for name, tensor in weights.items()}, strict=False)


class TeacherVectors:
    """A teacher's note vectors (`teacher.py`): rows for a batch's notes, and which notes have one."""

    def __init__(self, path: Path):
        import numpy as np

        with np.load(path) as saved:
            self.rows = {str(note_id): row for row, note_id in enumerate(saved["ids"])}
            self.vectors = torch.from_numpy(saved["vectors"].astype(np.float32))

    def batch(self, note_ids: list[str]) -> dict[str, torch.Tensor]:
        rows = [self.rows.get(note_id, -1) for note_id in note_ids]
        teacher = torch.zeros(len(rows), self.vectors.shape[1])
        has_teacher = torch.tensor([row >= 0 for row in rows])
        if bool(has_teacher.any()):
            teacher[has_teacher] = self.vectors[[row for row in rows if row >= 0]]
        return {"teacher": teacher, "has_teacher": has_teacher}


def trainable_state(model: NoteLLM) -> dict[str, torch.Tensor]:
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k in names}


def load_run(run: Path, map_location: str = "cpu", base: Path | None = None) -> tuple[NoteLLM, TrainConfig, dict]:
    """Rebuild the trained model of a run folder from its checkpoint: (model in eval mode, config, checkpoint).
    `base` is the base GGUF on this machine when the run's own path does not hold here (a slim run from a
    GPU machine records none, and the default base is SmolLM2)."""
    path = Path(run) / CHECKPOINT_FILE
    if not path.exists():
        raise TrainError(f"no checkpoint in {run}")
    checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    config = TrainConfig.from_dict(checkpoint["config"])
    if base is not None:
        config.base, config.tokenizer_gguf = str(base), ""
    config.grad_checkpointing = False
    model = build_model(config)
    missing = set(checkpoint["model"]) - set(model.state_dict())
    if missing:
        raise TrainError(f"checkpoint has weights the model lacks: {sorted(missing)[:3]}")
    model.load_state_dict(checkpoint["model"], strict=False)
    return model.eval(), config, checkpoint


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10%."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@functools.lru_cache(maxsize=2)
def epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    """The seeded shuffle of one epoch's pair indices (kept: at 100k pairs a shuffle costs more than a GPU step)."""
    order = list(range(n))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order


def pairs_for_step(pairs: list[dict], step: int, per_process: int, process: int, processes: int, seed: int) -> list[dict]:
    """Pairs in a seeded order, epoch after epoch; a pure function of the step, so resuming replays exactly."""
    n = len(pairs)
    start = (step * processes + process) * per_process
    return [pairs[epoch_order(seed, index // n, n)[index % n]] for index in range(start, start + per_process)]


def vault_weights(by_vault: dict[str, list[dict]], languages: dict[str, str] | None = None,
                  language_balance: float = 0.0) -> dict[str, float]:
    """How often `--collection-batches` draws each vault: in proportion to the square root of its pair count, so
    the largest collection does not drown the rest. With a `language_balance` T > 0, a language is drawn first, in
    proportion to its pair count to the power T, then one of its vaults as before (a vault of no recorded
    language counts as one of its own)."""
    if language_balance <= 0:
        return {name: math.sqrt(len(pairs)) for name, pairs in by_vault.items()}
    languages = languages or {}
    groups: dict[str, list[str]] = {}
    for name in by_vault:
        groups.setdefault(languages.get(name, f"?{name}"), []).append(name)
    weights = {}
    for names in groups.values():
        share = sum(len(by_vault[name]) for name in names) ** language_balance
        roots = {name: math.sqrt(len(by_vault[name])) for name in names}
        weights.update({name: share * root / sum(roots.values()) for name, root in roots.items()})
    return weights


def collection_pairs_for_step(by_vault: dict[str, list[dict]], step: int, per_process: int, process: int, processes: int,
                              seed: int, weights: dict[str, float] | None = None) -> list[dict]:
    """All of a step's pairs from one vault, drawn as `vault_weights` says; a pure function of the step.

    Pairs that share a note with an already chosen pair come last: a note twice in one batch would be its
    own in-batch negative."""
    names = sorted(by_vault)
    weights = weights or vault_weights(by_vault)
    rng = random.Random(f"{seed}:vault:{step}")
    pairs = by_vault[rng.choices(names, [weights[name] for name in names])[0]]
    wanted = per_process * processes
    order = rng.sample(pairs, len(pairs))
    chosen, rest, seen = [], [], set()
    for pair in order:
        if pair["a"] in seen or pair["b"] in seen:
            rest.append(pair)
        else:
            chosen.append(pair)
            seen.update((pair["a"], pair["b"]))
    chosen += rest
    while len(chosen) < wanted:  # a vault with fewer pairs than a batch repeats them
        chosen += order
    return chosen[:wanted][process * per_process:(process + 1) * per_process]


def pairs_by_vault(dataset: Dataset) -> tuple[list[dict], dict[str, list[dict]]]:
    """The dataset's pairs whose two notes it has, and the same pairs grouped by the vault of their first note."""
    pairs = [p for p in dataset.pairs if p["a"] in dataset.notes and p["b"] in dataset.notes]
    by_vault: dict[str, list[dict]] = {}
    for pair in pairs:
        by_vault.setdefault(dataset.notes[pair["a"]]["vault"], []).append(pair)
    return pairs, by_vault


class ExampleCache:
    """Token ids per note (and per note + CSFT continuation), built once — or read from a token file."""

    def __init__(self, notes: dict[str, dict], tokenizer: PromptTokenizer | None, eos_id: int, content_tokens: int,
                 keyword_line: int = 0, folder_line: bool = False):
        """`keyword_line` and `folder_line` are the tokenizer's (a token file keeps them: no tokenizer then)."""
        self.notes, self.tokenizer, self.eos_id, self.content_tokens = notes, tokenizer, eos_id, content_tokens
        self.keyword_line = tokenizer.keyword_line if tokenizer else keyword_line
        self.folder_line = tokenizer.folder_line if tokenizer else folder_line
        self.cache: dict[tuple[str, bool], Example] = {}

    def get(self, note_id: str, with_generation: bool) -> Example:
        note = self.notes[note_id]
        with_generation = with_generation and bool(note.get("target_kind"))
        key = (note_id, with_generation)
        if key not in self.cache:
            if self.tokenizer is None:
                raise TrainError(f"the token file has no entry for {note_id}; run `notellm-train tokenize` again")
            kind, targets = (note["target_kind"], note["targets"]) if with_generation else (None, None)
            self.cache[key] = build_example(
                self.tokenizer, self.eos_id, note["title"], note["text"], self.content_tokens, kind, targets,
                folder_of(note["path"]),
            )
        return self.cache[key]

    def save(self, path: Path, generation: bool = True) -> Path:
        """Tokenize every note (both ways, or without the CSFT continuation) and write a gzipped JSON token file;
        a GPU box without llama.cpp trains from it."""
        for note_id in self.notes:
            self.get(note_id, False)
            if generation:
                self.get(note_id, True)
        rows = {f"{note_id}\t{int(gen)}": [e.ids, e.emb_index, e.prompt_len, e.shared, e.label_from, e.own_from]
                for (note_id, gen), e in self.cache.items()}
        payload = {"content_tokens": self.content_tokens, "keyword_line": self.keyword_line, "folder_line": self.folder_line,
                   "eos_id": self.eos_id, "prompt_version": PROMPT_VERSION, "examples": rows}
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            json.dump(payload, handle)
        return Path(path)

    @classmethod
    def load(cls, path: Path, notes: dict[str, dict], content_tokens: int, keyword_line: int = 0,
             folder_line: bool = False) -> "ExampleCache":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            payload = json.load(handle)
        held = (payload["content_tokens"], payload.get("keyword_line", 0), payload.get("folder_line", False), payload["prompt_version"])
        if held != (content_tokens, keyword_line, folder_line, PROMPT_VERSION):
            def prompts(tokens, keywords, folders, version):
                return f"{tokens}-token prompts with {keywords} keywords, {'with' if folders else 'without'} the folder (v{version})"
            raise TrainError(f"{path} holds {prompts(*held)}; this run wants {prompts(content_tokens, keyword_line, folder_line, PROMPT_VERSION)}")
        cache = cls(notes, None, payload["eos_id"], content_tokens, keyword_line, folder_line)
        for key, row in payload["examples"].items():
            note_id, gen = key.rsplit("\t", 1)
            cache.cache[(note_id, gen == "1")] = Example(*row)  # a file from before pooling has no `own_from`
        return cache


def example_cache(config: TrainConfig, notes: dict[str, dict]) -> ExampleCache:
    """The run's token ids: from its token file if it has one, else from llama.cpp's tokenizer."""
    if config.tokens:
        cache = ExampleCache.load(Path(config.tokens), notes, config.content_tokens, config.keyword_line, config.folder_line)
        if config.pooling != LAST_TOKEN and any(example.own_from < 0 for example in cache.cache.values()):
            raise TrainError(f"{config.tokens} predates --pooling: run `notellm-train tokenize` again")
        return cache
    tokenizer, eos_id = load_tokenizer(config.resolved_tokenizer(), config.keyword_line, config.folder_line)
    return ExampleCache(notes, tokenizer, eos_id, config.content_tokens)


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> list[dict]:
    """Run (or continue) training; returns the per-step log as dicts (also in OUT's `TrainingStep` log)."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    checkpoint_path = out / CHECKPOINT_FILE
    checkpoint = None
    if resume and checkpoint_path.exists():
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        saved = TrainConfig.from_dict(checkpoint["config"])
        saved.steps, saved.out, saved.threads = config.steps, config.out, config.threads  # may be extended
        config = saved
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    dataset = Dataset.load_many([Path(d) for d in config.data])
    pairs, by_vault = pairs_by_vault(dataset)
    if not pairs:
        raise TrainError(f"{config.data} has no training pairs (notes need links, co-occurrence or --same-tag-pairs)")
    languages = dataset.languages()
    if config.language_balance and not (config.collection_batches and languages):
        raise TrainError("--language-balance needs --collection-batches and data from `notellm-train prepare-corpus` "
                         "(which records each collection's language)")
    weights = vault_weights(by_vault, languages, config.language_balance)
    examples = example_cache(config, dataset.notes)
    eos_id = examples.eos_id
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 matmuls: ~8x faster on Ampere+, ample for LoRA training

    model = build_model(config)
    forget_loaded_bases()
    if config.init_from and checkpoint is None:
        load_trained_weights(model, Path(config.init_from))
    teacher = TeacherVectors(Path(config.teacher)) if config.teacher else None
    miner = HardNegatives(dataset.notes, pairs) if config.hard_negatives else None
    head = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("lm.")]
    body = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("lm.")]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": config.lr}, {"params": head, "lr": config.head_lr}], weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, config))
    start_step, log = 0, []
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"], strict=False)
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        start_step, log = checkpoint["step"], checkpoint["log"]
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()

    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / RUN_CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")

    def save(step: int) -> None:
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            return
        state = {
            "config": asdict(config),
            "step": step,
            "model": trainable_state(accelerator.unwrap_model(model)),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "log": log,
        }
        torch.save(state, out / (CHECKPOINT_FILE + ".tmp"))
        os.replace(out / (CHECKPOINT_FILE + ".tmp"), checkpoint_path)

    bar = tqdm(range(start_step, config.steps), initial=start_step, total=config.steps, disable=not (progress and accelerator.is_main_process))
    log_file = open(out / TRAINING_LOG_FILE, "a", encoding="utf-8") if accelerator.is_main_process else None
    for step in bar:
        started = time.perf_counter()
        if config.collection_batches:
            chosen = collection_pairs_for_step(by_vault, step, config.batch_pairs, accelerator.process_index,
                                               accelerator.num_processes, config.seed, weights)
        else:
            chosen = pairs_for_step(pairs, step, config.batch_pairs, accelerator.process_index, accelerator.num_processes, config.seed)
        rng = random.Random(f"{config.seed}:gen:{step}:{accelerator.process_index}")
        ids = [p["a"] for p in chosen] + [p["b"] for p in chosen]
        if miner is not None:
            ids += miner.for_pairs(chosen, config.hard_negatives)
        batch = collate([examples.get(i, rng.random() < config.gen_fraction) for i in ids], eos_id, config.pooling)
        batch["pairs"] = torch.tensor(len(chosen))
        if teacher is not None:
            batch.update(teacher.batch(ids))
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        losses = model(batch)
        accelerator.backward(losses["loss"])
        if config.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        entry = TrainingStep(
            step=step + 1,
            loss=float(losses["loss"].detach()),
            contrastive=float(losses["contrastive"].detach()),
            generation=float(losses["generation"].detach()),
            distillation=float(losses["distillation"].detach()),
            scale=accelerator.unwrap_model(model).contrastive.scale,
            lr=scheduler.get_last_lr()[0],
            seconds=round(time.perf_counter() - started, 2),
        )
        log.append(asdict(entry))
        if log_file:
            log_file.write(entry.line())
            log_file.flush()
        bar.set_postfix(loss=f"{entry.loss:.3f}", cl=f"{entry.contrastive:.3f}", gen=f"{entry.generation:.2f}",
                        **({"distill": f"{entry.distillation:.3f}"} if teacher is not None else {}))
        if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
            save(step + 1)
    save(config.steps)
    if log_file:
        log_file.close()
    return log
