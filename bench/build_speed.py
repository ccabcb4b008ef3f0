"""Notes per second of the llama.cpp build installed in this Python: compare two builds by running it with
each one's interpreter, alternately, on a quiet machine.

    .venv/bin/python bench/build_speed.py portable && OTHER/.venv/bin/python bench/build_speed.py native

or two stored-weight formats of one model with one build, the same way (`bench/build_speed.py q8_0 MODEL.gguf`).
The shipped default model unless a model file is given, the sample vault's first 64 notes by path, 128 content tokens, 2 threads,
8 notes per call (after 4 notes to warm up).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from notellm.engine import cpu_kernels
from notellm.engine.model import NoteModel
from notellm.engine.vault import read_notes

REPO = Path(__file__).resolve().parents[1]
NOTES, BATCH, CONTENT_TOKENS = 64, 8, 128


def main() -> None:
    label = sys.argv[1] if len(sys.argv) > 1 else "this build"
    model_path = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "assets" / "models" / "notellm-default.gguf"
    vault = REPO / "assets" / "sample-vault"
    notes = [note.prompt_fields for note in read_notes(vault)][:NOTES]
    model = NoteModel(model_path, threads=2)
    model.embed_notes(notes[:4], CONTENT_TOKENS)
    started = time.perf_counter()
    for start in range(0, len(notes), BATCH):
        model.embed_notes(notes[start:start + BATCH], CONTENT_TOKENS)
    print(f"{label} ({cpu_kernels.load()} CPU kernels): {len(notes) / (time.perf_counter() - started):.2f} notes/s")


if __name__ == "__main__":
    main()
