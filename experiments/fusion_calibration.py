"""A fusion weight chosen per vault from its own links, against the engine's one weight for every vault.

    .venv/bin/python experiments/fusion_calibration.py default=.cache/heldout/default-<key> minilm=.cache/heldout/minilm-minilm

The engine fuses the model's ranking with its lexical match at equal weight everywhere. A vault whose links
follow its words (the Russian validation collection: the lexical match alone 0.591, fused 0.513) would rather
trust the words, and a vault's existing links could say so before any training. Per validation collection and
seed, the link sources are split 80/20: the model's weight (`WEIGHTS`, 0 = the lexical match alone) that ranks
the 80% best is scored on the other 20%, against weight 1 and the lexical match alone on those same 20%.

Each NAME=FOLDER is a folder of cached vectors that `bench/heldout.py` wrote for one method; nothing is
embedded again. Prints R@10 on the held-out fifth per collection (mean over `SEEDS`) and the weights chosen.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
from notellm.training.evaluate import LexicalRanker
from notellm.training.heldout import cosine_scores, fuse, link_ranks, read_collection

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
SEEDS = 5
HELD_OUT = 0.2


def held_out_sources(sources: list[int], seed: int) -> set[int]:
    order = list(sources)
    random.Random(seed).shuffle(order)
    return set(order[:max(1, int(HELD_OUT * len(order)))])


def main(arguments: list[str]) -> None:
    split = split_collections(read_manifest(DEFAULT_CORPUS), SplitRule(seed=0))
    collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in split.validation]
    lexical = {d.name: LexicalRanker().scores(d.notes, d.sources) for d in collections}
    for name, folder in (argument.split("=", 1) for argument in arguments):
        macro = {"weight 1": [], "lexical alone": [], "chosen": []}
        for d in collections:
            cosine = cosine_scores(np.load(Path(folder) / f"{d.name}.npz")["vectors"], d.sources)
            hits = {w: link_ranks(fuse([cosine, lexical[d.name]], [w, 1.0]), d) <= 10 for w in WEIGHTS}
            link_sources = np.array([source for source, _ in d.links])
            scores, chosen = {key: [] for key in macro}, []
            for seed in range(SEEDS):
                test = np.isin(link_sources, list(held_out_sources(d.sources, seed)))
                best = max(WEIGHTS, key=lambda w: (hits[w][~test].mean(), w == 1.0))  # ties keep the engine's weight
                chosen.append(best)
                scores["chosen"].append(hits[best][test].mean())
                scores["weight 1"].append(hits[1.0][test].mean())
                scores["lexical alone"].append(hits[0.0][test].mean())
            for key, values in scores.items():
                macro[key].append(np.mean(values))
            print(f"{name} {d.name}: " + ", ".join(f"{key} {np.mean(v):.3f}" for key, v in scores.items()) + f"; weights {chosen}", flush=True)
        print(f"{name} macro: " + ", ".join(f"{key} {np.mean(v):.3f}" for key, v in macro.items()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
