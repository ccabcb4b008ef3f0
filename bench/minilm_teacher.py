"""all-MiniLM-L6-v2 vectors of a prepared data folder's notes: the teacher of `notellm-train train --teacher`.

Distillation (`training/losses/distillation.py`) asks the model to order each batch's notes the way MiniLM
orders them. MiniLM is needed only here, at training time; the product never runs it. The vectors are
written as float16 (MiniLM's 384 dimensions, L2-normalised) with the note ids, in a seeded random order
and saved every `--save-every` notes, so a run stopped early leaves a usable file over a random sample of
the notes (training distils only the notes that have a vector). An existing OUT is resumed: its vectors
are kept and only the missing notes are embedded. `--ids FILE` (one note id a line) embeds only those notes;
`--drawn-by-steps N --batch-pairs B` only the notes that the first N steps of a `--collection-batches` run
(seed 0) draw, for a short run.

    .venv/bin/python bench/minilm_teacher.py data/corpus -o runs/teacher/minilm.npz
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np


def save(path: Path, ids: list[str], vectors: list[np.ndarray]) -> None:
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, ids=np.array(ids), vectors=np.concatenate(vectors).astype(np.float16))
    os.replace(temporary, path)


def drawn_notes(data: Path, steps: int, batch_pairs: int, seed: int) -> set[str]:
    """The notes that the first `steps` steps of a one-collection-a-step run on `data` draw (train.py's own rule)."""
    from notellm.training.data import Dataset
    from notellm.training.train import collection_pairs_for_step, pairs_by_vault

    _, by_vault = pairs_by_vault(Dataset.load_many([data]))
    return {note for step in range(steps) for pair in collection_pairs_for_step(by_vault, step, batch_pairs, 0, 1, seed)
            for note in (pair["a"], pair["b"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a folder from `notellm-train prepare` or `corpus` (notes.jsonl)")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--max-word-pieces", type=int, default=128, help="MiniLM's input length (256 at most)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-every", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ids", type=Path, help="embed only these notes (one id a line)")
    parser.add_argument("--drawn-by-steps", type=int, default=0, help="embed only the notes these steps of a run draw")
    parser.add_argument("--batch-pairs", type=int, default=16, help="that run's pairs a step")
    args = parser.parse_args()

    import torch

    from notellm.training.evaluate import minilm_ranker

    torch.set_num_threads(args.threads)
    with open(args.data / "notes.jsonl", encoding="utf-8") as handle:
        notes = [json.loads(line) for line in handle]
    random.Random(args.seed).shuffle(notes)
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    if args.out.exists():
        with np.load(args.out) as saved:
            ids, vectors = [str(i) for i in saved["ids"]], [saved["vectors"].astype(np.float32)]
    wanted = set(args.ids.read_text(encoding="utf-8").splitlines()) if args.ids else None
    if args.drawn_by_steps:
        drawn = drawn_notes(args.data, args.drawn_by_steps, args.batch_pairs, args.seed)
        wanted = drawn if wanted is None else wanted & drawn
    done = set(ids)
    notes = [n for n in notes if n["id"] not in done and (wanted is None or n["id"] in wanted)]
    print(f"{len(done)} notes kept from {args.out}; {len(notes)} to embed", flush=True)
    minilm = minilm_ranker(max_word_pieces=args.max_word_pieces)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for start in range(0, len(notes), args.save_every):
        chunk = notes[start:start + args.save_every]
        vectors.append(minilm.embed(chunk))
        ids += [n["id"] for n in chunk]
        save(args.out, ids, vectors)
        seconds = time.perf_counter() - started
        print(f"{start + len(chunk)}/{len(notes)} notes, {(start + len(chunk)) / seconds:.1f} notes/s", flush=True)


if __name__ == "__main__":
    main()
