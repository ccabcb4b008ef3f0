"""Carry a prepared training set to a machine with a GPU, and a trained run back: pack, unpack, slim.

The GPU machine needs PyTorch and transformers but no llama.cpp, and the prepared corpus is large to carry
(`notes.jsonl` ~190 MB, the base GGUF 98 MB). `pack` writes one folder with everything `train` needs:

* `base.gguf`: the base GGUF cut to its first N blocks (`delta.cut_gguf`: tensors byte for byte), so
  transformers dequantizes exactly the weights `--layers N` would keep from the full file;
* `data/notes.jsonl.gz`: each note's id and vault only (with a token file, training never reads the text),
  and with `with_text` its title and text too (the hard-negative miner reads them);
* `data/train_pairs.jsonl.gz`, `data/heldout_pairs.jsonl`, `data/manifest.json`;
* `tokens.json.gz`: the token file given (`notellm-train tokenize --embedding-only`);
* optionally `teacher.npz`: the teacher's vectors (`teacher.py`) cut by PCA to a few dimensions and stored as
  int8 in the row order of `data/notes.jsonl`, so no note id travels twice (384 float16 dimensions and the
  ids are 114 MB; 128 int8 dimensions are 5.6 MB, and their note-to-note cosines correlate at 0.96 with the
  full vectors' within a collection);
* `pack.json`: the layers kept and the token file's prompt length, which the training run must use.

`unpack` turns the folder back into what `train` reads; `slim_run` shrinks a trained run to its trainable
weights in float16, a run folder that `notellm-train export` takes on any machine.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np

from .delta import cut_gguf

TEACHER_SCALE = 127  # int8 steps of a unit vector's coordinates
PACK_FILE = "pack.json"
PACKED_TEACHER = "teacher.npz"
UNPACKED_TEACHER = "teacher-vectors.npz"  # the (ids, float16 vectors) file `train --teacher` reads


def _write_gz(path: Path, lines) -> None:
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
    with np.load(pack / PACKED_TEACHER) as saved:
        present, vectors = saved["present"], saved["vectors"][saved["present"]].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.savez(out, ids=np.array(note_ids)[present], vectors=vectors.astype(np.float16))
    return out


def pack(data: Path, tokens: Path, layers: int, base: Path, out: Path,
         teacher: Path | None = None, teacher_dims: int = 128, with_text: bool = False) -> list[Path]:
    """Write the pack of the prepared DATA folder into OUT; returns the files written."""
    (out / "data").mkdir(parents=True, exist_ok=True)
    cut_gguf(base, out / "base.gguf", layers)
    with open(data / "notes.jsonl", encoding="utf-8") as notes:
        note_ids, lines = [], []
        for row in map(json.loads, notes):
            note_ids.append(row["id"])
            kept = ("id", "vault", "title", "text") if with_text else ("id", "vault")
            lines.append(json.dumps({key: row[key] for key in kept}, ensure_ascii=False) + "\n")
    _write_gz(out / "data" / "notes.jsonl.gz", lines)
    with open(data / "train_pairs.jsonl", encoding="utf-8") as pairs:
        _write_gz(out / "data" / "train_pairs.jsonl.gz", pairs)
    for name in ("manifest.json", "heldout_pairs.jsonl"):
        shutil.copyfile(data / name, out / "data" / name)
    shutil.copyfile(tokens, out / "tokens.json.gz")
    with gzip.open(tokens, "rt", encoding="utf-8") as handle:
        held = json.load(handle)
    prompt = {"content_tokens": held["content_tokens"], "keyword_line": held.get("keyword_line", 0),
              "folder_line": held.get("folder_line", False)}
    if teacher:
        pack_teacher(teacher, note_ids, teacher_dims, out / PACKED_TEACHER)
    (out / PACK_FILE).write_text(json.dumps({"layers": layers, **prompt}) + "\n", encoding="utf-8")
    return sorted(path for path in out.rglob("*") if path.is_file())


def unpack(pack_dir: Path) -> dict:
    """Make a pack trainable in place: unzip its data, rebuild its teacher file. Returns the `train` settings
    the pack implies (data, base, tokens, layers, content_tokens, keyword_line, folder_line, and teacher when it carries
    one)."""
    for packed in sorted((pack_dir / "data").glob("*.gz")):
        with gzip.open(packed, "rb") as source, open(packed.with_suffix(""), "wb") as target:
            shutil.copyfileobj(source, target)
        packed.unlink()
    settings = {"data": str(pack_dir / "data"), "base": str(pack_dir / "base.gguf"),
                "tokens": str(pack_dir / "tokens.json.gz"),
                **json.loads((pack_dir / PACK_FILE).read_text(encoding="utf-8"))}
    if (pack_dir / PACKED_TEACHER).exists():
        settings["teacher"] = str(unpack_teacher(pack_dir, pack_dir / UNPACKED_TEACHER))
    return settings


def slim_run(run: Path, out: Path) -> Path:
    """Copy RUN's last checkpoint into the run folder OUT with only its trainable weights, in float16, and a
    config whose machine-specific paths are cleared (export then finds the base on its own machine)."""
    import torch

    from notellm.engine.training_report import CHECKPOINT_FILE

    checkpoint = torch.load(run / CHECKPOINT_FILE, map_location="cpu", weights_only=False)
    config = dict(checkpoint["config"], base="", tokenizer_gguf="", tokens="", teacher="", init_from="",
                  out=str(out), data=[])
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"config": config, "step": checkpoint["step"], "log": checkpoint["log"],
                "model": {k: v.half() for k, v in checkpoint["model"].items()}}, out / CHECKPOINT_FILE)
    return out
