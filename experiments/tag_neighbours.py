"""Which related notes a tagged vault's hashtags should read: the pair (the model and the shared words), or the
related panel's ranking (with the nearest-folder list and the notes the note names), on the tagged protocol (a).

    .venv/bin/python experiments/tag_neighbours.py [--seeds 5] [--validation-only]

`VaultIndex.suggest_tags` votes with the tags of the note's related notes. They were ranked by the model and the
shared words alone at the vault's chosen model weight (the pair); they are now the related panel's, with the
folders and the named notes (`engine.fusion_weight.fused`). Protocol (a) (`training.heldout.hidden_tags_protocol`: 50 tagged notes' tags
hidden) scores the engine's suggestions and the neighbour-vote baseline with the neighbours ranked each way, the
weighting chosen from all of the collection's links as the engine chooses it (`training.heldout.tag_setting`, the
benchmark's own neighbours, at each weighting). On the tagged training collections
of at most 800 notes (where to decide) and the four tagged validation collections (what to report); the model
trained on the training collections' links, so their figures are in-vault.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
MAX_NOTES = 800


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=1, help="seeded samples of 50 hidden notes per collection, pooled")
    parser.add_argument("--validation-only", action="store_true")
    args = parser.parse_args()
    import heldout as bench

    from notellm.engine import fusion_weight
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import (HIDDEN_TAG_NOTES, SUGGESTERS, cosine_scores, hashtag_metrics, panel_weighting,
                                         pooled_hashtags, read_collection, tag_setting, tagged_sample, tagged_vaults,
                                         vault_choice, weighted_ranks)

    model_path = REPO / "assets" / "models" / "notellm-default.gguf"
    key, embed = bench.note_embedder(model_path, DEFAULT_CONTENT_TOKENS)
    _, split, validation = bench.validation_collections()
    training = [c for c in split.train if c.notes <= MAX_NOTES]
    suggesters = {name: SUGGESTERS[name] for name in ("neighbour votes", "engine")}
    variants = ("the pair (before)", "the pair + named", "the panel's (shipped)")

    def judged(data, method: str) -> tuple[dict[str, dict[str, list[dict]]], fusion_weight.Weighting, fusion_weight.Weighting]:
        vectors = bench.cached_vectors(method, key, data, embed)[0]
        untagged = bench.untagged_vectors(method, key, data, embed)
        full = panel_weighting(vectors, data)
        pair = (vault_choice(weighted_ranks(cosine_scores(vectors, data.sources), LexicalRanker().scores(data.notes, data.sources), data), data)
                if len(data.sources) >= fusion_weight.MIN_SOURCES else fusion_weight.DEFAULT)
        weightings = {variants[0]: fusion_weight.Weighting(pair.model, 0.0, 0.0),
                      variants[1]: fusion_weight.Weighting(full.model, 0.0, full.mention),
                      variants[2]: full}
        out = {variant: {name: [] for name in suggesters} for variant in variants}
        for seed in range(args.seeds):
            sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
            for variant, weighting in weightings.items():
                setting = tag_setting(data, vectors, set(sample), untagged, weighting=weighting)
                for name, suggest in suggesters.items():
                    out[variant][name].append(hashtag_metrics(data, {i: (None, suggest(setting, i)) for i in sample}))
        return out, pair, full

    for label, collections, method in (("training", training, "default-train"), ("validation", None, "default"))[args.validation_only:]:
        datas = tagged_vaults(validation if collections is None else
                              [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in collections])
        rows = {variant: {name: [] for name in suggesters} for variant in variants}
        print(f"\n{label}: {len(datas)} tagged collections\n")
        print("| collection | weightings (pair; full) | " + " | ".join(f"{v}: {n}" for v in variants for n in suggesters) + " |")
        print("|---|---|" + "---|" * (len(variants) * len(suggesters)))
        for data in datas:
            out, pair, full = judged(data, method)
            for variant in variants:
                for name in suggesters:
                    rows[variant][name] += out[variant][name]
            print(f"| {data.name} | {pair.key()}; {full.key()} | " + " | ".join(
                f"{pooled_hashtags(out[v][n])['precision@3']:.3f}" for v in variants for n in suggesters) + " |", flush=True)
        print(f"| **pooled** | | " + " | ".join(
            f"**{pooled_hashtags(rows[v][n])['precision@3']:.3f}**" for v in variants for n in suggesters) + " |", flush=True)


if __name__ == "__main__":
    main()
