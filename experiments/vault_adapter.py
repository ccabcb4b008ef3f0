"""Whether a vault's own links can adapt the shipped model's vectors to it: a 128 x 128 linear map, fitted in seconds.

    .venv/bin/python experiments/vault_adapter.py [--minilm | --training]

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
so the scores are in-vault), where the settings can be chosen away from the validation collections.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
SETTINGS = [  # (steps, learning rate, pull toward the identity)
    (300, 1e-2, 1e-2),
    (300, 3e-2, 1e-2),
    (300, 3e-2, 3e-2),
]


def fit_map(vectors: np.ndarray, pairs: list[tuple[int, int]], steps: int, lr: float, pull: float,
            scale: float = 20.0, batch: int = 1024, seed: int = 0) -> np.ndarray:
    """W (d x d) so that each pair's first note ranks its partner first among every other note of the vault, the
    first note's other partners aside; pairs count both ways. NumPy alone, as the engine could run it (no torch):
    Adam over the softmax cross-entropy, its gradient written out (it agrees with torch's autograd to 1e-6 over
    the first ten steps); each step over at most `batch` of the pairs, all of them for a vault of fewer links."""
    if not pairs:
        return np.eye(vectors.shape[1], dtype=np.float32)
    x = vectors.astype(np.float64)
    both = np.array(pairs + [(b, a) for a, b in pairs], dtype=np.int64)
    partners = defaultdict(set)
    for a, b in both:
        partners[a].add(b)
    masked = [np.array([a, *(p for p in partners[a] if p != b)]) for a, b in both]
    identity = np.eye(x.shape[1])
    weights, first, second = identity.copy(), np.zeros_like(identity), np.zeros_like(identity)
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        rows = np.arange(len(both)) if len(both) <= batch else rng.choice(len(both), batch, replace=False)
        anchors, targets = both[rows, 0], both[rows, 1]
        mapped = x @ weights
        length = np.linalg.norm(mapped, axis=1, keepdims=True)
        unit = mapped / length
        logits = scale * unit[anchors] @ unit.T
        for row, pair in enumerate(rows):
            logits[row, masked[pair]] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        softmax = np.exp(logits)
        softmax /= softmax.sum(axis=1, keepdims=True)
        softmax[np.arange(len(rows)), targets] -= 1.0
        softmax *= scale / len(rows)  # d loss / d (unit[a] . unit[j])
        d_unit = softmax.T @ unit[anchors]
        np.add.at(d_unit, anchors, softmax @ unit)
        d_mapped = (d_unit - unit * np.sum(unit * d_unit, axis=1, keepdims=True)) / length
        gradient = x.T @ d_mapped + 2.0 * pull * (weights - identity)
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient ** 2
        weights -= lr * (first / (1 - 0.9 ** step)) / (np.sqrt(second / (1 - 0.999 ** step)) + 1e-8)
    return weights.astype(np.float32)


def main() -> None:
    import heldout as bench
    from tables import print_recall_table

    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.heldout import (WEIGHT_FOLDS, LexicalRanker, app_ranks, cosine_scores, link_metrics, link_ranks,
                                          source_folds)

    key = bench.model_key(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    if "--training" in sys.argv[1:]:  # where the settings can be chosen away from the validation collections
        from notellm.training.corpus import DEFAULT_CORPUS, extract
        from notellm.training.heldout import read_collection

        folder = f"default-train-{key}"
        collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                      for c in bench.small_training_collections(10**9, 0) if (bench.CACHE / folder / f"{c.name}.npz").exists()]
    else:
        folder = "minilm-minilm" if "--minilm" in sys.argv[1:] else f"default-{key}"
        _, _, collections = bench.validation_collections()
    names = [data.name.split("__")[0] for data in collections]
    rows: dict[str, list[float]] = defaultdict(list)
    app: dict[str, list[float]] = defaultdict(list)
    for data in collections:
        started = time.time()
        vectors = np.load(bench.CACHE / folder / f"{data.name}.npz")["vectors"].astype(np.float32)
        lexical = LexicalRanker().scores(data.notes, data.sources)
        scores = cosine_scores(vectors, data.sources)
        rows["as they are"].append(link_metrics(link_ranks(scores, data))["R@10"])
        app["as they are"].append(link_metrics(app_ranks(scores, lexical, data))["R@10"])
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
