"""How far a note's vector moves with the other notes that share its llama.cpp decode.

The indexer sizes its batches by time (`engine/indexer.py`), so two cold indexes of one vault decode different
groups of notes together. This embeds the sample vault's notes with the default model in fixed groups of 8 (the
reference), then (1) in shuffled groups of 1, 3, 5 and 8, (2) one long note with random companions in decodes of
2 to 8 prompts, and (3) with one thread instead of two, and prints the largest difference of any vector from the
reference (vectors are unit length, 128 dimensions).

    .venv/bin/python experiments/batch_invariance.py
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = ROOT / "assets/sample-vault"
DEFAULT_MODEL = ROOT / "assets/models/notellm-default.gguf"
CONTENT_TOKENS = 128
TRIALS = 4


def main() -> None:
    os.environ["NOTELLM_HOME"] = tempfile.mkdtemp()
    from notellm.engine.model import NoteModel
    from notellm.engine.vault import folder_of

    paths = sorted(SAMPLE_VAULT.rglob("*.md"))
    notes = [(path.stem, path.read_text(encoding="utf-8"), folder_of(str(path.relative_to(SAMPLE_VAULT)))) for path in paths]
    model = NoteModel(DEFAULT_MODEL, threads=2)
    reference = model.embed_notes(notes, CONTENT_TOKENS)
    print(f"{len(notes)} notes, the reference in sorted groups of 8")
    for size in (1, 3, 5, 8):
        order = list(range(len(notes)))
        random.Random(size).shuffle(order)
        vectors = np.zeros_like(reference)
        for start in range(0, len(order), size):
            group = order[start : start + size]
            vectors[group] = model.embed_notes([notes[i] for i in group], CONTENT_TOKENS)
        print(f"shuffled groups of {size}: max difference {np.abs(vectors - reference).max():.1e}")
    longest = max(range(len(notes)), key=lambda i: len(model.prompt_ids(*notes[i][:2], CONTENT_TOKENS, notes[i][2])))
    alone = model.embed_notes([notes[longest]], CONTENT_TOKENS)[0]
    rng = random.Random(0)
    for size in range(2, 9):
        worst = 0.0
        for _ in range(TRIALS):
            companions = rng.sample([note for i, note in enumerate(notes) if i != longest], size - 1)
            slot = rng.randrange(size)
            group = companions[:slot] + [notes[longest]] + companions[slot:]
            worst = max(worst, float(np.abs(model.embed_notes(group, CONTENT_TOKENS)[slot] - alone).max()))
        print(f"{paths[longest].name} among {size} prompts ({TRIALS} random groups): max difference from alone {worst:.1e}")
    model.close()
    one_thread = NoteModel(DEFAULT_MODEL, threads=1)
    print(f"one thread instead of two: max difference {np.abs(one_thread.embed_notes(notes, CONTENT_TOKENS) - reference).max():.1e}")
    one_thread.close()


if __name__ == "__main__":
    main()
