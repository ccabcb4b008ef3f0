"""Which folder weights related notes may choose among, screened on training collections filed in folders.

    .venv/bin/python experiments/folder_weights.py [MODEL.gguf]

Related notes add a list of the fused candidates nearest the note's folder first (`engine.folder_ranking`) at
a weight that the vault's own links choose among `engine.fusion_weight.FOLDER_WEIGHTS`. Which weights to
offer is a choice to make away from the validation collections that judge it: here, on the training
collections of at most 600 notes with at least 100 links and more than one folder, each ranked as
`bench/heldout.py` ranks its related notes with the folders (`training.heldout.engine_ranks`, five-fold so that
no link chooses its own weighting), with each grid of folder weights offered. The model trained on these
collections' links, so its own share of the numbers is in-vault; what the grids change is how far the
folders may pull, which no training saw. Vectors are cached under .cache/heldout like the benchmark's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

GRIDS = {"none": (0.0,), "0–2 (shipped)": (0.0, 0.5, 1.0, 2.0), "0–4": (0.0, 0.5, 1.0, 2.0, 4.0), "0–8": (0.0, 1.0, 2.0, 4.0, 8.0)}
MAX_NOTES, MIN_LINKS = 600, 100


def main() -> None:
    import heldout as bench  # bench/heldout.py: its vector cache and model key

    from notellm.engine import fusion_weight
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import cosine_scores, engine_ranks, note_folders, read_collection, weight_from_links

    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "models" / "notellm-default.gguf"
    chosen = bench.small_training_collections(MAX_NOTES, MIN_LINKS)
    key, embed = bench.note_embedder(model_path, DEFAULT_CONTENT_TOKENS)
    scores: dict[str, list[float]] = {grid: [] for grid in GRIDS}
    every_folder_weight = sorted({weight for weights in GRIDS.values() for weight in weights})
    offered_weightings = tuple(fusion_weight.Weighting(m, f) for m in fusion_weight.WEIGHTS for f in every_folder_weight)
    print("| collection | notes | folders | " + " | ".join(GRIDS) + " |")
    print("|---|---|---|" + "---|" * len(GRIDS))
    for collection in chosen:
        data = read_collection(extract(DEFAULT_CORPUS, collection, REPO / ".cache" / "corpus"), collection.name)
        folders = set(note_folders(data))
        if len(folders) < 2 or len(data.sources) < fusion_weight.MIN_SOURCES:
            continue
        vectors = bench.cached_vectors("default-train", key, data, embed)[0]
        cosine, lexical = cosine_scores(vectors, data.sources), LexicalRanker().scores(data.notes, data.sources)
        ranks = engine_ranks(cosine, lexical, data, offered_weightings)
        for grid, weights in GRIDS.items():
            offered = {weighting: r for weighting, r in ranks.items() if weighting.folder in weights}
            scores[grid].append(float(np.mean(weight_from_links(offered, data)[0] <= fusion_weight.RECALL_AT)))
        print(f"| {collection.name.split('__')[0]} | {len(data.notes)} | {len(folders)} | "
              + " | ".join(f"{scores[grid][-1]:.3f}" for grid in GRIDS) + " |", flush=True)
    print(f"| **macro ({len(scores['none'])})** | | | " + " | ".join(f"**{np.mean(v):.3f}**" for v in scores.values()) + " |")


if __name__ == "__main__":
    main()
