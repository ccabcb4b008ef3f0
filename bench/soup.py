"""Average several LoRA runs of one base into one run folder ("model soup", Wortsman et al., ICML 2022).

The runs must share the base, the layer cut and the seed (so their projection heads start from the same
weights). The soup's weight update is the exact mean of theirs: the LoRA factors are stacked, A = [A1; A2; ...]
and B = [s1·B1, s2·B2, ...] / n with each run's scale s = alpha / rank, so rank = the sum of the ranks and
alpha = rank. The projection head and the temperature are averaged. `notellm-train export` takes the result
like any run; merged, it costs what one run costs per note.

    python bench/soup.py runs/gpu/c64 runs/gpu/c128 -o runs/gpu/soup
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

SHARED = ("base", "layers", "seed", "dim", "content_tokens", "lora_targets", "prompt_version")


def soup(runs: list[Path], out: Path) -> Path:
    checkpoints = [torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False) for run in runs]
    configs = [c["config"] for c in checkpoints]
    for key in SHARED:
        if len({repr(c[key]) for c in configs}) > 1:
            raise SystemExit(f"the runs differ in {key}: {[c[key] for c in configs]}")
    n = len(checkpoints)
    model: dict[str, torch.Tensor] = {}
    for name in checkpoints[0]["model"]:
        tensors = [c["model"][name].float() for c in checkpoints]
        if ".lora_A." in name:
            model[name] = torch.cat(tensors, dim=0)
        elif ".lora_B." in name:
            model[name] = torch.cat([t * (c["lora_alpha"] / c["lora_rank"]) / n for t, c in zip(tensors, configs)], dim=1)
        else:
            model[name] = sum(tensors) / n
    rank = sum(c["lora_rank"] for c in configs)
    config = dict(configs[0], lora_rank=rank, lora_alpha=rank, out=str(out), data=[])
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"config": config, "step": sum(c["step"] for c in checkpoints), "log": [], "model": model,
                "soup_of": [str(run) for run in runs]}, out / "checkpoint.pt")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (checkpoint.pt in each)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="run folder to write")
    args = parser.parse_args()
    print(soup(args.runs, args.out))


if __name__ == "__main__":
    main()
