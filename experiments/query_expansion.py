"""Related notes with the note's vector expanded by its first neighbours' vectors (pseudo-relevance feedback).

    .venv/bin/python experiments/query_expansion.py [MODEL.gguf]

A note's embedding alone misses related notes that say the same thing in other words; its nearest notes often
carry those words. Query expansion (average query expansion, Chum et al. 2007; alpha-QE, Radenović et al. 2018)
asks the vector index a second time with the note's vector plus its first neighbours', each weighted by its
similarity to the note raised to `ALPHA`. The index is unchanged (the notes' stored vectors stay as they are),
and a panel costs one more vector search. Two sources of the neighbours:

- `model QE m`: the model's own `m` nearest notes;
- `fused PRF m`: the `m` first notes of the ranking the app shows (the model fused with the lexical match at
  equal weight), so the words the lexical match found pull the vector toward them too.

Each expanded ranking is scored alone and fused with the engine's lexical match at the weight the vault's own
links choose, as `bench/heldout.py` scores a model (every link cut from every note; macro R@10 over the
validation collections), for the given model (default: the shipped one) and MiniLM alike, so that the gain is
the expansion's, not the model's. Vectors come from the benchmark's cache (.cache/heldout).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

ALPHA = 3.0
DEPTHS = (1, 2, 3, 5)


def expanded(vectors: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each note's vector plus its `first` notes' (one row of indices per note), weighted by similarity ** ALPHA."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = np.take_along_axis(unit @ unit.T, first, axis=1)
    weights = np.clip(similarity, 0.0, None) ** ALPHA
    result = unit + np.einsum("nm,nmd->nd", weights, unit[first])
    return result / np.linalg.norm(result, axis=1, keepdims=True)


def first_notes(scores: np.ndarray, depth: int) -> np.ndarray:
    """Each row's `depth` best notes, itself left out."""
    scores = scores.copy()
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :depth]


def main() -> None:
    import heldout as bench  # bench/heldout.py: the validation split, its vector cache and model key

    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.evaluate import LexicalRanker, minilm_ranker
    from notellm.training.heldout import (cosine_scores, fuse, link_metrics, link_ranks, macro_mean, weight_from_links,
                                         weighted_ranks)

    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "models" / "notellm-default.gguf"
    _, split, collections = bench.validation_collections()
    languages = {c.name: c.main_language for c in split.validation}
    every = {d.name: list(range(len(d.notes))) for d in collections}
    lexical_all = {d.name: LexicalRanker().scores(d.notes, every[d.name]) for d in collections}

    model = NoteModel(model_path, threads=2)
    key = bench.model_key(model_path, DEFAULT_CONTENT_TOKENS)
    embed_model = lambda notes: model.embed_notes([(n["title"], n["text"]) for n in notes], DEFAULT_CONTENT_TOKENS)  # noqa: E731
    vectors = {"default": {d.name: bench.cached_vectors("default", key, d, embed_model)[0] for d in collections}}
    model.close()
    minilm = minilm_ranker()
    vectors["MiniLM"] = {d.name: bench.cached_vectors("minilm", "minilm", d, minilm.embed)[0] for d in collections}

    print("| method | macro R@10 alone | fused, weighted by links | "
          + " | ".join(d.name.split("__")[0] + f" ({languages[d.name]})" for d in collections) + " |")
    print("|---|---|---|" + "---|" * len(collections))
    for name, by_collection in vectors.items():
        variants = {"plain": lambda d, v: v}
        for depth in DEPTHS:
            variants[f"model QE {depth}"] = lambda d, v, depth=depth: expanded(v, first_notes(cosine_scores(v, every[d.name]), depth))
            variants[f"fused PRF {depth}"] = lambda d, v, depth=depth: expanded(
                v, first_notes(fuse([cosine_scores(v, every[d.name]), lexical_all[d.name]]), depth))
        for label, variant in variants.items():
            alone, fused = {}, {}
            for data in collections:
                queries = variant(data, by_collection[data.name])[data.sources]
                unit = by_collection[data.name] / np.linalg.norm(by_collection[data.name], axis=1, keepdims=True)
                scores = queries @ unit.T
                lexical = lexical_all[data.name][data.sources]
                alone[data.name] = link_metrics(link_ranks(scores, data))
                fused[data.name] = link_metrics(weight_from_links(weighted_ranks(scores, lexical, data), data)[0])
            cells = " | ".join(f"{alone[d.name]['R@10']:.3f} / {fused[d.name]['R@10']:.3f}" for d in collections)
            print(f"| {name}, {label} | {macro_mean(list(alone.values()))['R@10']:.3f} | "
                  f"{macro_mean(list(fused.values()))['R@10']:.3f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
