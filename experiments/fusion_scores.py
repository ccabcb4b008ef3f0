"""Macro R@10 of a model fused with the engine's lexical match by rank or by score, over cached vectors.

    .venv/bin/python experiments/fusion_scores.py default=.cache/heldout/default-<key> minilm=.cache/heldout/minilm-minilm

Reciprocal-rank fusion (the engine's) throws away how far apart two scores are: a note that the lexical match
scores far above every other one counts no more than one a hair ahead. The other rules here fuse scores,
each normalised over what the engine has of a ranking, its first `LEXICAL_POOL` candidates (a candidate
outside one ranking's pool gets that ranking's floor):

- `rrf`: the engine's rule, 1 / (k + rank), k = `RRF_K`;
- `minmax w`: w × the model's score + the lexical score, each min-max scaled over its pool;
- `z w`: the same with each score's z-score over its pool;
- `maxnorm w`: the model's score min-max scaled, the lexical score over its pool's best (BM25's floor is 0).

Each NAME=FOLDER is a folder of cached vectors that `bench/heldout.py` wrote for one method (one .npz per
validation collection); nothing is embedded again. Prints macro R@10 and R@10 per collection for each rule.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from notellm.engine.fusion_weight import POOL as LEXICAL_POOL
from notellm.engine.lexical import RRF_K
from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
from notellm.training.evaluate import LexicalRanker
from notellm.training.heldout import cosine_scores, fuse, link_metrics, link_ranks, read_collection

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = (0.5, 0.75, 1.0, 1.5)


def pooled(scores: np.ndarray, scale: str) -> np.ndarray:
    """Each row scaled over its first LEXICAL_POOL entries; entries past the pool get the pool's floor."""
    result = np.empty_like(scores, dtype=np.float64)
    for row, values in enumerate(scores.astype(np.float64)):
        values = np.where(np.isfinite(values), values, np.nan)
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[:LEXICAL_POOL]
        pool = values[order]
        pool = pool[np.isfinite(pool)]
        if not len(pool):
            result[row] = 0.0
            continue
        if scale == "minmax":
            low, spread = pool.min(), max(pool.max() - pool.min(), 1e-9)
        elif scale == "z":
            low, spread = pool.mean(), max(pool.std(), 1e-9)
        else:  # "max": over the best, 0 stays 0 (a BM25 score)
            low, spread = 0.0, max(pool.max(), 1e-9)
        scaled = (values - low) / spread
        floor = (pool.min() - low) / spread
        outside = np.ones(len(values), bool)
        outside[order] = False
        scaled[outside | ~np.isfinite(scaled)] = floor
        result[row] = scaled
    return result


def main(arguments: list[str]) -> None:
    split = split_collections(read_manifest(DEFAULT_CORPUS), SplitRule(seed=0))
    collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in split.validation]
    names = [d.name.split("__")[0] for d in collections]
    lexical = {d.name: LexicalRanker().scores(d.notes, d.sources) for d in collections}
    print("rule", *names, "macro", sep="\t")
    lexical_recall = [link_metrics(link_ranks(lexical[d.name], d))["R@10"] for d in collections]
    print("lexical", *[f"{r:.3f}" for r in lexical_recall], f"{np.mean(lexical_recall):.3f}", sep="\t")
    lexical_scale = {"minmax": "minmax", "z": "z", "maxnorm": "max"}
    scaled_lexical = {rule: {d.name: pooled(lexical[d.name], scale) for d in collections} for rule, scale in lexical_scale.items()}
    for name, folder in (argument.split("=", 1) for argument in arguments):
        cosine = {d.name: cosine_scores(np.load(Path(folder) / f"{d.name}.npz")["vectors"], d.sources) for d in collections}
        rules = {f"{name} rrf": lambda d: fuse([cosine[d.name], lexical[d.name]], [1.0, 1.0], RRF_K)}
        for scale in lexical_scale:
            scaled_model = {d.name: pooled(cosine[d.name], "z" if scale == "z" else "minmax") for d in collections}
            for weight in WEIGHTS:
                rules[f"{name} {scale} {weight}"] = (
                    lambda d, s=scaled_model, l=scaled_lexical[scale], w=weight: w * s[d.name] + l[d.name])
        for rule, fused in rules.items():
            recall = [link_metrics(link_ranks(fused(d), d))["R@10"] for d in collections]
            print(rule, *[f"{r:.3f}" for r in recall], f"{np.mean(recall):.3f}", sep="\t", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
