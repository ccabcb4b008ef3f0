"""Whether a vault's own links can adapt the shipped model's vectors to it: a 128 x 128 linear map, fitted in seconds.

    .venv/bin/python experiments/vault_adapter.py [--minilm]

The shipped head refitted on the training collections learnt their links and nothing that carried to a new
collection (`head_refit.py`), but it learnt those collections' held-back links well (+6.4 points). A vault's own
links can do that for the vault alone, as they already choose its fusion weights: a linear map W (identity at
first) over the vectors the index stores, fitted on the vault's links with every other note of the vault a negative,
applied to every vector before the cosine. Over the vectors `bench/heldout.py` cached for the default (or, with
`--minilm`, for MiniLM, its map 384 x 384), each validation
collection's link sources are cut into five seeded folds as the fusion weight's are (`training.heldout`): each
fold's links are ranked with the map its other four folds' links fitted, so no link is scored by a map that saw it.
The folds are those by which the links choose the app's weighting (`training.heldout.weight_from_links`), so in the
app's ranking a fold's links meet a map and a weighting that the other folds chose. Macro Recall@10 alone and in the
app's ranking, per setting (steps, learning rate, pull toward the identity), against the vectors as they are.
"""

from __future__ import annotations

import random
import sys
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
            scale: float = 20.0) -> np.ndarray:
    """W (d x d) so that each pair's first note ranks its partner first among every other note of the vault, the
    first note's other partners aside; pairs count both ways."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    x = torch.tensor(vectors, dtype=torch.float32)
    both = np.array(pairs + [(b, a) for a, b in pairs], dtype=np.int64)
    partners = defaultdict(set)
    for a, b in both:
        partners[a].add(b)
    mask = torch.zeros((len(both), len(vectors)), dtype=torch.bool)
    for row, (a, b) in enumerate(both):
        mask[row, [a, *(p for p in partners[a] if p != b)]] = True
    identity = torch.eye(x.shape[1])
    weights = torch.nn.Parameter(identity.clone())
    optimiser = torch.optim.Adam([weights], lr=lr)
    anchors, targets = torch.tensor(both[:, 0]), torch.tensor(both[:, 1])
    for _ in range(steps):
        mapped = F.normalize(x @ weights, dim=-1)
        logits = (scale * mapped[anchors] @ mapped.T).masked_fill(mask, -torch.inf)
        loss = F.cross_entropy(logits, targets) + pull * (weights - identity).pow(2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return weights.detach().numpy()


def main() -> None:
    import torch

    import heldout as bench
    from tables import print_recall_table

    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.heldout import WEIGHT_FOLDS, LexicalRanker, app_ranks, cosine_scores, link_metrics, link_ranks

    torch.set_num_threads(2)
    if "--minilm" in sys.argv[1:]:
        folder = "minilm-minilm"
    else:
        folder = f"default-{bench.model_key(REPO / 'assets' / 'models' / 'notellm-default.gguf', DEFAULT_CONTENT_TOKENS)}"
    _, _, validation = bench.validation_collections()
    names = [data.name.split("__")[0] for data in validation]
    rows: dict[str, list[float]] = defaultdict(list)
    app: dict[str, list[float]] = defaultdict(list)
    for data in validation:
        vectors = np.load(bench.CACHE / folder / f"{data.name}.npz")["vectors"].astype(np.float32)
        lexical = LexicalRanker().scores(data.notes, data.sources)
        scores = cosine_scores(vectors, data.sources)
        rows["as they are"].append(link_metrics(link_ranks(scores, data))["R@10"])
        app["as they are"].append(link_metrics(app_ranks(scores, lexical, data))["R@10"])
        order = list(data.sources)
        random.Random(0).shuffle(order)  # weight_from_links's folds
        fold_of = {source: position % WEIGHT_FOLDS for position, source in enumerate(order)}
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
        print(data.name, {name: (round(values[-1], 3), round(app[name][-1], 3)) for name, values in rows.items()}, flush=True)
    print_recall_table("vectors, R@10 alone", names, rows)
    print_recall_table("vectors, R@10 in the app's ranking", names, app)


if __name__ == "__main__":
    main()
