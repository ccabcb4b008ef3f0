"""A training data folder with notes that share a narrow tag, or a small folder, as more positives.

Links teach the model which notes a writer related, and 114,080 link pairs are few outside English. A vault's
owner also groups notes by tag and by folder, and many notes without links carry both. For every training note
this adds a pair to one other note of its vault drawn at random among those that share one of its tags
(`--by tag`) or its folder (`--by folder`), where that tag or folder holds at most `--max-share` of the
vault's notes (a tag on half the vault, or the vault's top folder, says little about two notes). Pairs a link
already gives are not repeated. The validation collections are never in a training data folder, so nothing
here reaches the evaluation.

    .venv/bin/python experiments/label_pairs.py data/corpus data/corpus-tag --by tag
    notellm-train train data/corpus-tag -o runs/label/tag ...   # the screen's flags (docs/experiments.md)
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path, PurePosixPath

from notellm.training.data import Dataset


def labels_of(note: dict, by: str) -> list[str]:
    """The note's tags (casefolded), or its folder; none for a note at the vault's top."""
    if by == "tag":
        return sorted({tag.casefold() for tag in note["tags"]})
    folder = str(PurePosixPath(note["path"]).parent)
    return [] if folder == "." else [folder]


def label_pairs(notes: list[dict], by: str, max_share: float, rng: random.Random) -> list[tuple[str, str]]:
    """One partner per note among the notes of its vault sharing a label held by at most `max_share` of them."""
    vault_size: dict[str, int] = defaultdict(int)
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for note in notes:
        vault_size[note["vault"]] += 1
        for label in labels_of(note, by):
            members[note["vault"], label].append(note["id"])
    pairs = set()
    for note in notes:
        candidates = sorted({
            other
            for label in labels_of(note, by)
            if len(members[note["vault"], label]) <= max_share * vault_size[note["vault"]]
            for other in members[note["vault"], label]
            if other != note["id"]
        })
        if candidates:
            pairs.add(tuple(sorted((note["id"], rng.choice(candidates)))))
    return sorted(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="A prepared training data folder (notellm-train prepare-corpus).")
    parser.add_argument("out", type=Path)
    parser.add_argument("--by", choices=["tag", "folder"], required=True)
    parser.add_argument("--max-share", type=float, default=0.1, help="Share of its vault's notes a label may hold.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = Dataset.load(args.source)
    linked = {tuple(sorted((pair["a"], pair["b"]))) for pair in data.pairs}
    added = [
        {"a": a, "b": b, "kind": args.by, "weight": 1.0}
        for a, b in label_pairs(list(data.notes.values()), args.by, args.max_share, random.Random(args.seed))
        if (a, b) not in linked
    ]
    manifest = {**data.manifest, "label_pairs": {"by": args.by, "pairs": len(added), "max_share": args.max_share}}
    Dataset(data.notes, [*data.pairs, *added], data.heldout, manifest).save(args.out)
    print(f"{len(added)} {args.by} pairs beside {len(data.pairs)} link pairs; wrote {args.out}")


if __name__ == "__main__":
    main()
