"""A training data folder with a note's own later text as one more positive for it (Contriever-style crops).

Links pair notes that a writer related; a long note also relates to its own later part, which the model never
reads (it reads the title and the first 128 tokens). For every training note whose text runs on past the part
the model reads, this writes a note `<id>#rest` (no title; the text from `--skip-chars` on) and a pair of kind
`crop` from the note to it, beside the folder's link pairs. The validation collections are never in a training
data folder, so nothing here reaches the evaluation.

    .venv/bin/python experiments/crop_pairs.py data/corpus data/corpus-crop
    notellm-train train data/corpus-crop -o runs/crop/crop ...   # the screen's flags (docs/experiments.md)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from notellm.training.data import Dataset

REST_SUFFIX = "#rest"


def rest_of(text: str, skip_chars: int, min_chars: int) -> str | None:
    """The note's text from the paragraph break nearest after `skip_chars` on; None if under `min_chars` remain."""
    cut = text.find("\n\n", skip_chars)
    rest = text[cut:].strip() if cut >= 0 else ""
    return rest if len(rest) >= min_chars else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="A prepared training data folder (notellm-train prepare-corpus).")
    parser.add_argument("out", type=Path)
    parser.add_argument("--skip-chars", type=int, default=600, help="Text the model reads of the note itself (about 128 tokens).")
    parser.add_argument("--min-chars", type=int, default=300, help="Text the rest needs to make a pair.")
    args = parser.parse_args()

    data = Dataset.load(args.source)
    rests, crops = [], []
    for note in data.notes.values():
        rest = rest_of(note["text"], args.skip_chars, args.min_chars)
        if rest is None:
            continue
        rests.append({**note, "id": note["id"] + REST_SUFFIX, "path": note["path"] + REST_SUFFIX, "title": "", "text": rest,
                      "target_kind": None, "targets": []})
        crops.append({"a": note["id"], "b": note["id"] + REST_SUFFIX, "kind": "crop", "weight": 1.0})
    manifest = {**data.manifest, "crop_pairs": len(crops), "crop_skip_chars": args.skip_chars}
    Dataset({**data.notes, **{rest["id"]: rest for rest in rests}}, [*data.pairs, *crops], data.heldout, manifest).save(args.out)
    print(f"{len(crops)} crop pairs beside {len(data.pairs)} link pairs; wrote {args.out}")


if __name__ == "__main__":
    main()
