"""The weighting of a vault whose links are too few to choose one, screened as one fixed weighting for every collection.

    .venv/bin/python experiments/unchosen_weighting.py [MODEL.gguf]

A vault with fewer than `engine.fusion_weight.MIN_SOURCES` linking notes (a new vault, or one that files instead
of linking) cannot choose its weighting from its links, so it gets one fixed weighting, `UNCHOSEN`. Which one is
screened here as if no collection could choose: each fixed weighting ranks every link of the training collections
of at most 600 notes with at least 100 links, and of the validation collections, as the engine ranks related
notes (`training.heldout.engine_ranks`). The decision is the training collections'; the validation collections
confirm it. The model trained on the training collections' links, so its share there is in-vault. Vectors are
cached under .cache/heldout like the benchmark's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

MAX_NOTES, MIN_LINKS = 600, 100


def main() -> None:
    import heldout as bench  # bench/heldout.py: its collections, vector cache and model key

    from notellm.engine.fusion_weight import DEFAULT, UNCHOSEN, Weighting
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import cosine_scores, engine_ranks, read_collection

    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "models" / "notellm-default.gguf"
    key, embed = bench.note_embedder(model_path, DEFAULT_CONTENT_TOKENS)
    fixed = (DEFAULT, Weighting(1.0, 0.5, 0.0), Weighting(1.0, 0.0, 1.0), Weighting(1.0, 0.0, 0.5), UNCHOSEN, Weighting(1.0, 1.0, 1.0))
    training = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                for c in bench.small_training_collections(MAX_NOTES, MIN_LINKS)]
    validation = bench.validation_collections()[2]
    for kind, collections, method in (("training", training, "default-train"), ("validation", validation, "default")):
        scores: dict[Weighting, list[float]] = {weighting: [] for weighting in fixed}
        print(f"\n{kind} collections\n\n| collection | " + " | ".join(w.key() for w in fixed) + " |")
        print("|---|" + "---|" * len(fixed))
        for data in collections:
            vectors = bench.cached_vectors(method, key, data, embed)[0]
            ranks = engine_ranks(cosine_scores(vectors, data.sources), LexicalRanker().scores(data.notes, data.sources), data, fixed)
            for weighting in fixed:
                scores[weighting].append(float(np.mean(ranks[weighting] <= 10)))
            print(f"| {data.name} | " + " | ".join(f"{scores[w][-1]:.3f}" for w in fixed) + " |", flush=True)
        print(f"| **macro ({len(collections)})** | " + " | ".join(f"**{np.mean(scores[w]):.3f}**" for w in fixed) + " |")
        for weighting in fixed[1:]:
            gains = np.array(scores[weighting]) - np.array(scores[DEFAULT])
            print(f"- {weighting.key()} against {DEFAULT.key()}: {int(np.sum(gains > 0))} up, {int(np.sum(gains < 0))} down, "
                  f"largest loss {max(0.0, -gains.min()):.3f}")


if __name__ == "__main__":
    main()
