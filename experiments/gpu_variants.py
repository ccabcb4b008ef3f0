"""Train several corpus variants side by side on one GPU inside a fixed time budget.

Each variant is a `TrainConfig` (the presets below; `c64` is the shipped default's recipe) trained by the normal
`train()` loop in its own process, all at once: a small model leaves most of a large GPU idle, so several runs
share it well. Each process first times a short probe run, then sizes its real run so that it ends (learning-rate
schedule and all) before the deadline. Every variant leaves OUT/<name>, a slim run folder (`notellm-train slim`)
that `notellm-train export` turns into a GGUF; score them with `bench/heldout.py` on the validation collections.

    python experiments/gpu_variants.py --pack PACK -o OUT --budget-s 400 --variants c64,c128,m64
    python experiments/gpu_variants.py --pack PACK -o OUT --variants fc64,kc64 --keyword-tokens KW.json.gz

PACK is a folder from scripts/pack_for_gpu.sh (for the default's recipe, `DATA PACK 6 128`: 6 blocks, 128 content
tokens); this unpacks it in place first. KW.json.gz, for the keyword-line variants, is the corpus tokenized with the
line (`notellm-train tokenize DATA --embedding-only --content-tokens 128 --keyword-line 12 -o KW.json.gz`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

from notellm.training.pack import slim_run, unpack
from notellm.training.train import TrainConfig, train

PACKED_TEACHER = "pack"  # a variant's `teacher`: the pack's own teacher vectors (`notellm-train pack --teacher`)

COMMON = dict(alpha=0.0, gen_fraction=0.0, lora_rank=64, lora_alpha=128,
              head_lr=2e-3, warmup_steps=50, mixed_precision="bf16", threads=4, checkpoint_every=100)
VARIANTS = {
    "c64": dict(collection_batches=True, batch_pairs=64, lr=3e-4),    # one collection per step, 128 notes
    "c128": dict(collection_batches=True, batch_pairs=128, lr=5e-4),  # more in-batch negatives, fewer steps
    "m64": dict(collection_batches=False, batch_pairs=64, lr=3e-4),   # pairs from all collections mixed
    "c64r16": dict(collection_batches=True, batch_pairs=64, lr=5e-4, lora_rank=16, lora_alpha=32),
    # continues a run (--set init_from=RUN) with a teacher's similarities (--set teacher=FILE): see docs/training.md
    "d16": dict(collection_batches=True, batch_pairs=16, lr=1e-4, warmup_steps=10),
    # c64 from the start with MiniLM's note-to-note similarities as a second term, at three weights
    "dc64": dict(collection_batches=True, batch_pairs=64, lr=3e-4, teacher=PACKED_TEACHER, distill_weight=1.0),
    "dc64w03": dict(collection_batches=True, batch_pairs=64, lr=3e-4, teacher=PACKED_TEACHER, distill_weight=0.3),
    "dc64w3": dict(collection_batches=True, batch_pairs=64, lr=3e-4, teacher=PACKED_TEACHER, distill_weight=3.0),
    # dc64 with sharper or flatter similarities, and a second seed of dc64 and c64 for the noise between runs
    "dc64t02": dict(collection_batches=True, batch_pairs=64, lr=3e-4, teacher=PACKED_TEACHER, distill_temperature=0.02),
    "dc64t10": dict(collection_batches=True, batch_pairs=64, lr=3e-4, teacher=PACKED_TEACHER, distill_temperature=0.1),
    "dc64s1": dict(collection_batches=True, batch_pairs=64, lr=3e-4, teacher=PACKED_TEACHER, seed=1),
    "c64s1": dict(collection_batches=True, batch_pairs=64, lr=3e-4, seed=1),
    # c64 with every prompt token seeing the whole note (llama.cpp runs it with causal attention off)
    "bc64": dict(collection_batches=True, batch_pairs=64, lr=3e-4, bidirectional=True),
    "bc64s1": dict(collection_batches=True, batch_pairs=64, lr=3e-4, bidirectional=True, seed=1),
    # capacity: the whole model moves instead of a LoRA, causal and bidirectional
    "fc64": dict(collection_batches=True, batch_pairs=64, lr=3e-5, full=True),
    "fbc64": dict(collection_batches=True, batch_pairs=64, lr=3e-5, full=True, bidirectional=True),
    # c64 with each step's language drawn first (languages other than English get 78% of the steps, not 35%)
    "lc64": dict(collection_batches=True, batch_pairs=64, lr=3e-4, language_balance=0.3),
    # c64 with the note's 12 most frequent content words before its text: reads --keyword-tokens, not the pack's
    "kc64": dict(collection_batches=True, batch_pairs=64, lr=3e-4, keyword_line=12),
    # c64 with the embedding the mean of the note's own tokens' states (a pack packed since --pooling existed)
    "pc64": dict(collection_batches=True, batch_pairs=64, lr=3e-4, pooling="mean"),
}


def overrides(pairs: list[str]) -> dict:
    """`--set field=value` pairs as TrainConfig values of the field's own type."""
    types = {f.name: type(f.default) for f in fields(TrainConfig)}
    values = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        kind = types[key]
        values[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return values


def run_variant(name: str, implied: dict, work: Path, out: Path, deadline: float, probe_steps: int, extra: dict,
                keyword_tokens: str = "") -> None:
    """Train variant `name` on the unpacked pack (`implied`: `pack.unpack`'s settings) so that it ends by `deadline`.
    A variant with a keyword line reads `keyword_tokens`, a token file tokenized with that line."""
    settings = {**COMMON, **VARIANTS[name], **extra}
    if settings.get("teacher") == PACKED_TEACHER:
        settings["teacher"] = implied["teacher"]
    tokens = keyword_tokens if settings.get("keyword_line") else implied["tokens"]
    config = TrainConfig(data=(implied["data"],), base=implied["base"], tokens=tokens, layers=implied["layers"],
                         content_tokens=implied["content_tokens"], out=str(work / f"{name}-probe"), steps=probe_steps,
                         **settings)
    probe = train(config, progress=False)
    per_step = statistics.median(entry["seconds"] for entry in probe[2:])
    left = deadline - time.time() - 10 - per_step * 5  # model load and the final save
    steps = max(probe_steps, int(left / (per_step * 1.08)))
    print(f"{name}: {per_step:.3f} s/step in the probe -> {steps} steps", flush=True)
    config = replace(config, out=str(work / name), steps=steps)
    log = train(config, progress=False)
    slim_run(Path(config.out), out / name)
    first, last = log[0], log[-1]
    tail = statistics.mean(entry["contrastive"] for entry in log[-50:])
    distill_tail = statistics.mean(entry.get("distillation", 0.0) for entry in log[-50:])
    summary = dict(name=name, steps=steps, pairs_seen=steps * config.batch_pairs, seconds_per_step=per_step,
                   first_loss=first["contrastive"], last50_loss=tail, last50_distillation=distill_tail,
                   scale=last["scale"], config=asdict(config))
    (out / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: done, {steps} steps, contrastive {first['contrastive']:.3f} -> {tail:.3f} (last 50)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu-corpus-work"))
    parser.add_argument("--budget-s", type=float, default=400, help="every variant has ended by then")
    parser.add_argument("--variants", default="c64,c128,m64", help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--probe-steps", type=int, default=12, help="steps timed before each real run")
    parser.add_argument("--keyword-tokens", default="", help="for the variants with a keyword line (kc64): a token file "
                        "from `notellm-train tokenize --embedding-only --keyword-line 12` at the pack's content tokens")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a TrainConfig field in every variant")
    args = parser.parse_args()
    deadline = time.time() + args.budget_s
    args.out.mkdir(parents=True, exist_ok=True)
    implied = unpack(args.pack)
    if any(VARIANTS[name].get("teacher") == PACKED_TEACHER for name in args.variants.split(",")) and "teacher" not in implied:
        raise SystemExit(f"{args.pack} carries no teacher (notellm-train pack --teacher)")
    extra = overrides(args.set)
    if any({**VARIANTS[name], **extra}.get("keyword_line") for name in args.variants.split(",")) and not args.keyword_tokens:
        raise SystemExit("a variant with a keyword line needs --keyword-tokens")
    context = multiprocessing.get_context("spawn")
    settings = (implied, args.work, args.out, deadline, args.probe_steps, extra, args.keyword_tokens)
    processes = [context.Process(target=run_variant, args=(name, *settings), name=name) for name in args.variants.split(",")]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=max(1.0, deadline + 60 - time.time()))
        if process.is_alive():
            process.terminate()
            process.join()
        print(f"{process.name}: exit {process.exitcode}", flush=True)
    for process in processes:  # a variant that did not finish still brings back its last checkpoint
        name = process.name
        if not (args.out / name).exists() and (args.work / name / "checkpoint.pt").exists():
            slim_run(args.work / name, args.out / name)
            print(f"{name}: unfinished; its last checkpoint came back", flush=True)


if __name__ == "__main__":
    main()
