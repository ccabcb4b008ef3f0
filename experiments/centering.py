"""Whether the model's vectors rank related notes better centred or whitened, the model alone (no training).

    .venv/bin/python experiments/centering.py

A decoder's pooled states share a large common direction (the mean of the training collections' unit vectors has
norm 0.70), which can crowd out what tells notes apart. Over the vectors `bench/heldout.py` cached for the default
and MiniLM, each validation collection's links are ranked by the cosine of the unit vectors as they are; less the
collection's own mean vector (what an engine could keep per vault); less the mean over the training collections'
vectors (a constant that could ship with the model); with the collection's first 1 or 3 principal directions taken
out as well; and whitened (the centred vectors over their first 128 principal directions, all of the default's
128 dimensions and a third of MiniLM's 384, each scaled to unit variance). Macro Recall@10 and each collection's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
WHITENED_DIRECTIONS = 128


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def views(vectors: np.ndarray, corpus_mean: np.ndarray | None) -> dict[str, np.ndarray]:
    """{view: the collection's vectors as ranked}, from its unit vectors."""
    centred = vectors - vectors.mean(0)
    _, spread, directions = np.linalg.svd(centred, full_matrices=False)
    out = {"as they are": vectors, "less the vault's mean": centred}
    if corpus_mean is not None:
        out["less the training collections' mean"] = vectors - corpus_mean
    for drop in (1, 3):
        top = directions[:drop]
        out[f"less the vault's mean and its first {drop} principal direction(s)"] = centred - (centred @ top.T) @ top
    kept = min(WHITENED_DIRECTIONS, len(spread))
    out[f"whitened over the vault's first {WHITENED_DIRECTIONS} directions"] = (centred @ directions[:kept].T) / spread[:kept]
    return out


def main() -> None:
    import heldout as bench
    from tables import print_recall_table

    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.heldout import cosine_scores, link_metrics, link_ranks

    key = bench.model_key(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    _, _, validation = bench.validation_collections()
    training = sorted((bench.CACHE / f"default-train-{key}").glob("*.npz"))
    corpus_mean = np.concatenate([unit(np.load(path)["vectors"].astype(np.float64)) for path in training]).mean(0)
    print(f"the mean of {len(training)} training collections' unit vectors: norm {np.linalg.norm(corpus_mean):.2f}")
    names = [data.name.split("__")[0] for data in validation]
    for method, folder, mean in (("default", f"default-{key}", corpus_mean), ("MiniLM", "minilm-minilm", None)):
        rows: dict[str, list[float]] = {}
        for data in validation:
            vectors = unit(np.load(bench.CACHE / folder / f"{data.name}.npz")["vectors"].astype(np.float64))
            for view, ranked in views(vectors, mean).items():
                ranks = link_ranks(cosine_scores(unit(ranked), data.sources), data)
                rows.setdefault(view, []).append(link_metrics(ranks)["R@10"])
        print(f"\n{method} alone, R@10")
        print_recall_table("vectors", names, rows)


if __name__ == "__main__":
    main()
