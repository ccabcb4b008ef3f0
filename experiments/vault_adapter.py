"""Whether a vault's own links can adapt the shipped model's vectors to it: a 128 x 128 linear map, fitted in seconds.

    .venv/bin/python experiments/vault_adapter.py [--minilm | --training] [--rule]

The shipped head refitted on the training collections learnt their links and nothing that carried to a new
collection (`head_refit.py`), but it learnt those collections' held-back links well (+6.4 points). A vault's own
links can do that for the vault alone, as they already choose its fusion weights: a linear map W (identity at
first) over the vectors the index stores, fitted on the vault's links with every other note of the vault a negative,
applied to every vector before the cosine. Over the vectors `bench/heldout.py` cached for the default (or, with
`--minilm`, for MiniLM, its map 384 x 384), each validation collection's link sources are cut into the five folds by
which its links choose the app's weighting (`training.heldout.source_folds`): a fold's links are ranked with
the map its other four folds' links fitted, and in the app's ranking at the weighting those folds chose, so no link
is scored by a map or a weighting that saw it. Macro Recall@10 alone and in the app's ranking, per setting (steps,
learning rate, pull toward the identity), against the vectors as they are. `--training` scores the default on the
training collections `bench/heldout.py` cached for the hashtag screens instead (the model trained on their links,
so the scores are in-vault), where the settings can be chosen away from the validation collections. `--rule` scores
the engine's rule instead of the settings (`engine.vault_map`, as `bench/heldout.py` measures it:
`training.heldout.vault_map_ranks`): the map of `engine.vault_map`'s setting, kept per fold only where the other
folds' held-out rankings gain by it.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

import numpy as np

SETTINGS = [  # (steps, learning rate, pull toward the identity)
    (300, 1e-2, 1e-2),
    (300, 3e-2, 1e-2),
    (300, 3e-2, 3e-2),
]


def fit_map(vectors: np.ndarray, pairs: list[tuple[int, int]], steps: int, lr: float, pull: float) -> np.ndarray:
    """W (d x d) so that each pair's first note ranks its partner first among every other note of the vault, the
    first note's other partners aside; pairs count both ways, each note its own anchor (`engine.vault_map.fit`)."""
    from notellm.engine.vault_map import Example, fit

    partners = defaultdict(set)
    for a, b in pairs:
        partners[a].add(b)
        partners[b].add(a)
    examples = [Example(note, vectors[note], frozenset(linked)) for note, linked in sorted(partners.items())]
    return fit(vectors, examples, steps, lr, pull)


def main() -> None:
    from heldout_cache import cached_collections
    from tables import print_recall_table

    from notellm.training.heldout import (WEIGHT_FOLDS, LexicalRanker, app_ranks, cosine_scores, link_metrics, link_ranks,
                                          source_folds, vault_map_ranks)

    folder, collections = cached_collections("--training" in sys.argv[1:], "--minilm" in sys.argv[1:])
    names = [data.name.split("__")[0] for data in collections]
    rows: dict[str, list[float]] = defaultdict(list)
    app: dict[str, list[float]] = defaultdict(list)
    for data in collections:
        started = time.time()
        vectors = np.load(folder / f"{data.name}.npz")["vectors"].astype(np.float32)
        lexical = LexicalRanker().scores(data.notes, data.sources)
        scores = cosine_scores(vectors, data.sources)
        rows["as they are"].append(link_metrics(link_ranks(scores, data))["R@10"])
        app["as they are"].append(link_metrics(app_ranks(scores, lexical, data))["R@10"])
        if "--rule" in sys.argv[1:]:
            alone, ranked, kept = vault_map_ranks(vectors, lexical, data)
            rows["the engine's rule"].append(link_metrics(alone)["R@10"])
            app["the engine's rule"].append(link_metrics(ranked)["R@10"])
            print(data.name, f"{time.time() - started:.0f} s, kept in {sum(kept)} of {len(kept)} folds",
                  {name: (round(values[-1], 3), round(app[name][-1], 3)) for name, values in rows.items()}, flush=True)
            continue
        fold_of = source_folds(data)  # the folds by which the links choose the app's weighting
        for steps, lr, pull in SETTINGS:
            scores = np.zeros((len(data.sources), len(data.notes)))
            for fold in range(WEIGHT_FOLDS):
                pairs = [(a, b) for a, b in data.links if fold_of[a] != fold]
                mapped = vectors @ fit_map(vectors, pairs, steps, lr, pull)
                held = [row for row, source in enumerate(data.sources) if fold_of[source] == fold]
                scores[held] = cosine_scores(mapped, [data.sources[row] for row in held])
            name = f"mapped: {steps} steps, lr {lr:g}, pull {pull:g}"
            rows[name].append(link_metrics(link_ranks(scores, data))["R@10"])
            app[name].append(link_metrics(app_ranks(scores, lexical, data))["R@10"])
        print(data.name, f"{time.time() - started:.0f} s", {name: (round(values[-1], 3), round(app[name][-1], 3)) for name, values in rows.items()}, flush=True)
    print_recall_table("vectors, R@10 alone", names, rows)
    print_recall_table("vectors, R@10 in the app's ranking", names, app)


if __name__ == "__main__":
    main()
