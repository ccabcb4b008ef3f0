"""How much a tagged vault's folders vote for a note's hashtags, now that the model reads the note's folder.

    .venv/bin/python experiments/folder_votes.py [--seeds 3]

`engine.neighbour_tags` scores a tag by the related notes' votes plus `LINKED_WEIGHT` × the share of the notes the note
links with that carry it plus `FOLDER_WEIGHT` × the share of the other notes in its folder that do. Those weights were
chosen (2026-12-03, screened again 2026-12-04) when the model read a note's title and text alone. The shipped model
now reads its folder too (`ModelTraits.folder_line`), so its related notes already lean toward the note's folder,
and the folder's share may count the folder twice. This scores the engine's rule on protocol (a) at other weights
(the engine's own `neighbour_tags`, its module constants set for the run), the rest as shipped.

Related notes as the app's panel ranks them (`training.heldout.tag_setting`: the shipped default's vectors, a hidden
note's without its inline tags, with the lexical match, the folders and the named notes at the weighting the
collection's links choose), seeded samples of 50 hidden notes pooled. On the tagged training collections of at most
800 notes (where to decide, by right - wrong tags a note; the model trained on their links, so their related notes
are in-vault) and the four tagged validation collections (what to report).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
MAX_NOTES = 800
FOLDER_WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)
LINKED_WEIGHTS = (0.5, 1.0, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3, help="seeded samples of 50 hidden notes per collection, pooled")
    args = parser.parse_args()
    import heldout as bench

    from notellm.engine import neighbour_tags as rule
    from notellm.engine.hashtags import tag_key
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import (HIDDEN_TAG_NOTES, SUGGESTERS, hashtag_metrics, panel_weighting, pooled_hashtags,
                                         read_collection, tag_setting, tagged_sample, tagged_vaults)

    key, embed = bench.note_embedder(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    _, split, validation = bench.validation_collections()
    training = [c for c in split.train if c.notes <= MAX_NOTES]
    shipped = (rule.LINKED_WEIGHT, rule.FOLDER_WEIGHT)
    weights = [(linked, folder) for linked in LINKED_WEIGHTS for folder in FOLDER_WEIGHTS]

    for label, collections, method in (("training", training, "default-train"), ("validation", None, "default")):
        datas = tagged_vaults(validation if collections is None else
                              [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in collections])
        rows = {pair: [] for pair in weights}
        totals = {pair: [0, 0, 0] for pair in weights}  # notes, tags proposed, tags right
        votes = []
        for data in datas:
            vectors = bench.cached_vectors(method, key, data, embed)[0]
            untagged = bench.untagged_vectors(method, key, data, embed)
            weighting = panel_weighting(vectors, data)
            for seed in range(args.seeds):
                sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
                setting = tag_setting(data, vectors, set(sample), untagged, weighting=weighting)
                votes.append(hashtag_metrics(data, {i: (None, SUGGESTERS["neighbour votes"](setting, i)) for i in sample}))
                for pair in weights:
                    rule.LINKED_WEIGHT, rule.FOLDER_WEIGHT = pair
                    answers = {i: SUGGESTERS["engine"](setting, i) for i in sample}
                    rows[pair].append(hashtag_metrics(data, {i: (None, tags) for i, tags in answers.items()}))
                    for i, tags in answers.items():
                        gold = {tag_key(tag) for tag in data.notes[i]["tags"]}
                        totals[pair][0] += 1
                        totals[pair][1] += len(tags)
                        totals[pair][2] += sum(tag_key(tag) in gold for tag in tags)
                rule.LINKED_WEIGHT, rule.FOLDER_WEIGHT = shipped
            print(f"{label}: {data.name} done", file=sys.stderr, flush=True)
        print(f"\n{label}: {len(datas)} tagged collections, {args.seeds} samples of {HIDDEN_TAG_NOTES}; "
              f"neighbour votes (the baseline) P@3 {pooled_hashtags(votes)['precision@3']:.3f}\n")
        print("| linked weight | folder weight | P@3 | R@3 | tags a note | right - wrong a note |\n|---|---|---|---|---|---|")
        for pair in weights:
            pooled = pooled_hashtags(rows[pair])
            notes, proposed, right = totals[pair]
            mark = " (shipped)" if pair == shipped else ""
            print(f"| {pair[0]:g} | {pair[1]:g}{mark} | {pooled['precision@3']:.3f} | {pooled['recall@3']:.3f} | "
                  f"{proposed / notes:.2f} | {(2 * right - proposed) / notes:.3f} |", flush=True)


if __name__ == "__main__":
    main()
