"""Macro R@10 of a model fused with the engine's lexical match, over a grid of RRF constants and weights.

    .venv/bin/python experiments/fusion_weights.py default=.cache/heldout/default-<key> minilm=.cache/heldout/minilm-minilm

Each NAME=FOLDER is a folder of cached vectors that `bench/heldout.py` wrote for one method (one .npz per
validation collection); nothing is embedded again. Prints one line per (name, k, weight of the model's side).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
from notellm.training.evaluate import LexicalRanker
from notellm.training.heldout import cosine_scores, fuse, link_metrics, link_ranks, read_collection

REPO = Path(__file__).resolve().parents[1]
CONSTANTS = (5, 10, 20)
WEIGHTS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def main(arguments: list[str]) -> None:
    split = split_collections(read_manifest(DEFAULT_CORPUS), SplitRule(seed=0))
    collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in split.validation]
    lexical = {d.name: LexicalRanker().scores(d.notes, d.sources) for d in collections}
    for name, folder in (argument.split("=", 1) for argument in arguments):
        scores = {d.name: cosine_scores(np.load(Path(folder) / f"{d.name}.npz")["vectors"], d.sources) for d in collections}
        for k in CONSTANTS:
            for weight in WEIGHTS:
                recall = [link_metrics(link_ranks(fuse([scores[d.name], lexical[d.name]], [weight, 1.0], k), d))["R@10"]
                          for d in collections]
                print(f"{name} k={k} weight={weight}: {np.mean(recall):.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
