"""Train several NoteLLM variants and score each on the held-out links, in one process (made for a GPU lease).

Every variant is a `TrainConfig` trained by the normal loop and scored by PyTorch (`evaluate.torch_ranker`) on
the held-out links of the prepared data; zero-shot rows score the base LM's last hidden state, unprojected,
the way the engine embeds with a GGUF that has no NoteLLM head. Results go to OUT/sweep.json after each
variant, and each trained run leaves OUT/<name>.pt: its LoRA + head in float16 without optimizer state, which
`notellm-train export` turns into a GGUF on any machine (the run's base resolves to the local PyPI SmolLM2).

    python bench/train_sweep.py --base SmolLM2.gguf --links runs/data-links --til runs/data-til \\
        --tokens runs/tokens -o OUT --steps 300 --batch-pairs 32 --budget-s 480

`--tokens DIR` holds `tokens-<n>.json.gz` from `notellm-train tokenize --content-tokens <n>` for each prompt
length swept, so the GPU machine needs no llama.cpp.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import nn

from notellm.training.data import Dataset
from notellm.training.evaluate import link_prediction, torch_ranker
from notellm.training.model import NoteLLM, load_causal_lm
from notellm.training.train import TrainConfig, example_cache, load_run, train


def without_vault(data: Path, vault: str, out: Path) -> Path:
    """A copy of a prepared data folder whose training pairs leave one vault out (for a never-seen-vault score)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("notes.jsonl", "heldout_pairs.jsonl", "manifest.json"):
        shutil.copyfile(data / name, out / name)
    lines = (data / "train_pairs.jsonl").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if json.loads(line)["a"].split("/", 1)[0] != vault]
    (out / "train_pairs.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return out


def score(model: nn.Module, config: TrainConfig, dataset: Dataset, name: str) -> list[dict]:
    ranker = torch_ranker(model, example_cache(config, dict(dataset.notes)), name, batch=64)
    vaults = sorted({p["vault"] for p in dataset.heldout})
    return [link_prediction(ranker, dataset, vault) for vault in vaults]


def slim_checkpoint(run: Path, target: Path) -> None:
    """The run's trainable weights in float16 and a config that resolves on any machine."""
    checkpoint = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    config = dict(checkpoint["config"], base="", tokenizer_gguf="", tokens="", out=target.stem, data=[])
    torch.save({"config": config, "step": checkpoint["step"], "log": checkpoint["log"],
                "model": {k: v.half() for k, v in checkpoint["model"].items()}}, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="base GGUF (or HF folder)")
    parser.add_argument("--links", type=Path, required=True, help="prepared data with held-out links")
    parser.add_argument("--til", type=Path, help="prepared category-paired data (training only)")
    parser.add_argument("--tokens", type=Path, required=True, help="folder of tokens-<n>.json.gz")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, help="run folders with full checkpoints [default: OUT/work]")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-pairs", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--budget-s", type=float, default=480, help="start no variant after this many seconds")
    parser.add_argument("--lengths", default="64,128,256", help="prompt lengths (content tokens) to sweep")
    parser.add_argument("--leave-out", default="dendron-site-vault", help="comma list: for each vault, one extra run never sees its links")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or args.out / "work"
    data = [str(args.links)] + ([str(args.til)] if args.til else [])
    evaluation = Dataset.load(args.links)
    lengths = [int(n) for n in args.lengths.split(",")]
    middle = lengths[len(lengths) // 2]
    results = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", "runs": []}

    def record(row: dict) -> None:
        row["elapsed_s"] = round(time.perf_counter() - started, 1)
        results["runs"].append(row)
        (args.out / "sweep.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: row[k] for k in ("name", "elapsed_s")} | {r["vault"]: round(r.get("R@10", 0), 3) for r in row["links"]}), flush=True)

    base_config = TrainConfig(data=tuple(data), base=args.base, steps=args.steps, batch_pairs=args.batch_pairs, lr=args.lr, seed=args.seed,
                              checkpoint_every=0, warmup_steps=max(1, args.steps // 20))
    lm = load_causal_lm(args.base)
    zero_shot = NoteLLM(lm)
    zero_shot.projection = nn.Identity()  # the engine's zero-shot embedding: normalised last hidden state
    for n in lengths:
        config = replace(base_config, content_tokens=n, tokens=str(args.tokens / f"tokens-{n}.json.gz"))
        record({"name": f"zero-shot-{n}", "content_tokens": n, "links": score(zero_shot, config, evaluation, f"zero-shot {n}")})
    del zero_shot, lm

    suffix = f"-seed{args.seed}" if args.seed else ""
    variants = [(f"gcl-{middle}{suffix}", replace(base_config, content_tokens=middle))]
    for vault in filter(None, args.leave_out.split(",")):
        left_out = without_vault(args.links, vault, work / f"links-without-{vault}")
        variants.append((f"gcl-{middle}-without-{vault}{suffix}",
                         replace(base_config, content_tokens=middle, data=(str(left_out),) + tuple(data[1:]))))
    variants += [(f"gcl-{n}{suffix}", replace(base_config, content_tokens=n)) for n in lengths if n != middle]
    for name, config in variants:
        if time.perf_counter() - started > args.budget_s:
            print(f"budget spent: {name} not trained", flush=True)
            continue
        config = replace(config, out=str(work / name), tokens=str(args.tokens / f"tokens-{config.content_tokens}.json.gz"))
        train_started = time.perf_counter()
        log = train(config, progress=False)
        train_s = time.perf_counter() - train_started
        model, config, _ = load_run(Path(config.out))
        record({"name": name, "content_tokens": config.content_tokens, "config": asdict(config), "train_s": round(train_s, 1),
                "first_loss": log[0]["loss"], "last_loss": log[-1]["loss"], "links": score(model, config, evaluation, name)})
        slim_checkpoint(Path(config.out), args.out / f"{name}.pt")
        del model


if __name__ == "__main__":
    main()
