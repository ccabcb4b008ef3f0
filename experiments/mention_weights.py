"""Which weights the notes a note names may take in related notes, screened on training collections.

    .venv/bin/python experiments/mention_weights.py [MODEL.gguf]
    .venv/bin/python experiments/mention_weights.py --both-ways   # also the notes that name the note

Related notes may fuse in the notes whose titles the note's text names (`engine.mentions`) at a weight that the
vault's own links choose among `engine.fusion_weight.MENTION_WEIGHTS`, together with the model's and the
folders' weights. Which weights to offer is decided away from the validation collections that judge it: here,
on the training collections of at most 600 notes with at least 100 links, each ranked as `bench/heldout.py`
ranks the app's related notes (`training.heldout.engine_ranks`, five-fold so that no link chooses its own
weighting), with each grid of mention weights offered. The model trained on these collections' links, so its
own share of the numbers is in-vault; what the grids change is how far the named notes may pull, which no
training saw. Vectors are cached under .cache/heldout like the benchmark's. `--both-ways` screens the other
direction too: after the notes the note names, the notes whose text names its title.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

GRIDS = {"none": (0.0,), "0, 1 (shipped)": (0.0, 1.0), "0, 0.5, 1": (0.0, 0.5, 1.0), "0–2": (0.0, 0.5, 1.0, 2.0)}
MAX_NOTES, MIN_LINKS = 600, 100


def main() -> None:
    import heldout as bench  # bench/heldout.py: its vector cache and model key

    from notellm.engine import fusion_weight
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import cosine_scores, engine_ranks, named_notes, read_collection, weight_from_links

    arguments = [argument for argument in sys.argv[1:] if argument != "--both-ways"]
    both_ways = "--both-ways" in sys.argv[1:]
    model_path = Path(arguments[0]) if arguments else REPO / "assets" / "models" / "notellm-default.gguf"
    chosen = bench.small_training_collections(MAX_NOTES, MIN_LINKS)
    key, embed = bench.note_embedder(model_path, DEFAULT_CONTENT_TOKENS)
    scores: dict[str, list[float]] = {grid: [] for grid in GRIDS}
    every_mention_weight = sorted({weight for weights in GRIDS.values() for weight in weights})
    offered_weightings = tuple(fusion_weight.Weighting(m, f, n) for m in fusion_weight.WEIGHTS
                               for f in fusion_weight.FOLDER_WEIGHTS for n in every_mention_weight)
    print("| collection | notes | links named in their source's text | " + " | ".join(GRIDS) + " |")
    print("|---|---|---|" + "---|" * len(GRIDS))
    for collection in chosen:
        data = read_collection(extract(DEFAULT_CORPUS, collection, REPO / ".cache" / "corpus"), collection.name)
        if len(data.sources) < fusion_weight.MIN_SOURCES:
            continue
        vectors = bench.cached_vectors("default-train", key, data, embed)[0]
        cosine, lexical = cosine_scores(vectors, data.sources), LexicalRanker().scores(data.notes, data.sources)
        named = named_notes(data)
        share = np.mean([target in named[source] for source, target in data.links])
        if both_ways:
            naming: list[list[int]] = [[] for _ in data.notes]
            for source, targets in enumerate(named):
                for target in targets:
                    naming[target].append(source)
            named = [targets + [n for n in naming[note] if n not in targets] for note, targets in enumerate(named)]
        ranks = engine_ranks(cosine, lexical, data, offered_weightings, named)
        for grid, weights in GRIDS.items():
            offered = {weighting: r for weighting, r in ranks.items() if weighting.mention in weights}
            scores[grid].append(float(np.mean(weight_from_links(offered, data)[0] <= fusion_weight.RECALL_AT)))
        print(f"| {collection.name} | {len(data.notes)} | {share:.0%} | " + " | ".join(f"{scores[g][-1]:.3f}" for g in GRIDS) + " |", flush=True)
    print(f"| **macro ({len(scores['none'])})** | | | " + " | ".join(f"**{np.mean(s):.3f}**" for s in scores.values()) + " |")


if __name__ == "__main__":
    main()
