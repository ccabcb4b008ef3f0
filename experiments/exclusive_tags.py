"""Whether a tagged vault's second and third hashtags should give way to the first when the vault never tags a note
with both (alternatives, such as `status/writing` and `status/completed`, or `cs` and `ee`).

    .venv/bin/python experiments/exclusive_tags.py [--seeds 3]

`engine.neighbour_tags` proposes up to three tags by one score. Some vaults tag by facets whose values exclude each
other: a note has one status, one course. Where the first tag and a later one are each carried by at least M
(2, 3 or 5) notes of the evidence and never by the same note, the later one is likely wrong. Evidence: the
vault's notes with visible tags (`vault`), or only the tag lists the rule already reads (the related notes', the
linked notes' and the folder's: `local`). For each rule, protocol (a) as `experiments/folder_votes.py` runs it:
related notes as the app's panel ranks them, seeded samples of 50 hidden notes pooled, on the tagged training
collections of at most 800 notes (where to decide, by right - wrong tags a note) and the four tagged validation
collections (what to report). The tags the rule drops are counted with how often they were right.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
MAX_NOTES = 800


def cooccurrence(tag_lists) -> tuple[Counter, Counter]:
    """(carriers of each tag key, carriers of each pair of keys) over tag lists."""
    from notellm.engine.hashtags import tag_key

    single, pair = Counter(), Counter()
    for tags in tag_lists:
        keys = sorted({tag_key(tag) for tag in tags} - {""})
        single.update(keys)
        pair.update(combinations(keys, 2))
    return single, pair


def exclusive(first: str, other: str, single: Counter, pair: Counter, min_carriers: int) -> bool:
    a, b = sorted((first, other))
    return single[first] >= min_carriers and single[other] >= min_carriers and pair[(a, b)] == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3, help="seeded samples of 50 hidden notes per collection, pooled")
    args = parser.parse_args()
    import heldout as bench

    from notellm.engine.hashtags import tag_key
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import (HIDDEN_TAG_NOTES, SUGGESTERS, hashtag_metrics, panel_weighting, pooled_hashtags,
                                         read_collection, tag_setting, tagged_sample, tagged_vaults)

    key, embed = bench.note_embedder(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    _, split, validation = bench.validation_collections()
    training = [c for c in split.train if c.notes <= MAX_NOTES]
    rules = [("shipped", None, 0)] + [(f"{where}, ≥ {m} carriers", where, m) for where in ("vault", "local") for m in (2, 3, 5)]

    for label, collections, method in (("training", training, "default-train"), ("validation", None, "default")):
        datas = tagged_vaults(validation if collections is None else
                              [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in collections])
        rows = {name: [] for name, _, _ in rules}
        totals = {name: [0, 0, 0, 0, 0] for name, _, _ in rules}  # notes, proposed, right, dropped, dropped right
        for data in datas:
            vectors = bench.cached_vectors(method, key, data, embed)[0]
            untagged = bench.untagged_vectors(method, key, data, embed)
            weighting = panel_weighting(vectors, data)
            for seed in range(args.seeds):
                sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
                setting = tag_setting(data, vectors, set(sample), untagged, weighting=weighting)
                vault = cooccurrence(setting.visible)
                shipped = {i: SUGGESTERS["engine"](setting, i) for i in sample}
                for name, where, min_carriers in rules:
                    answers = {}
                    for i, tags in shipped.items():
                        if where is None or len(tags) < 2:
                            answers[i] = tags
                            continue
                        if where == "vault":
                            single, pair = vault
                        else:
                            lists = [setting.visible[j] for j in setting.nearest[i]]
                            lists += [setting.visible[j] for j in setting.linked[i]] + [setting.visible[j] for j in setting.folder_mates[i]]
                            single, pair = cooccurrence(lists)
                        first = tag_key(tags[0])
                        kept = [tags[0]] + [t for t in tags[1:] if not exclusive(first, tag_key(t), single, pair, min_carriers)]
                        gold = {tag_key(tag) for tag in data.notes[i]["tags"]}
                        dropped = [t for t in tags if t not in kept]
                        totals[name][3] += len(dropped)
                        totals[name][4] += sum(tag_key(t) in gold for t in dropped)
                        answers[i] = kept
                    rows[name].append(hashtag_metrics(data, {i: (None, tags) for i, tags in answers.items()}))
                    for i, tags in answers.items():
                        gold = {tag_key(tag) for tag in data.notes[i]["tags"]}
                        totals[name][0] += 1
                        totals[name][1] += len(tags)
                        totals[name][2] += sum(tag_key(tag) in gold for tag in tags)
            print(f"{label}: {data.name} done", file=sys.stderr, flush=True)
        print(f"\n{label}: {len(datas)} tagged collections, {args.seeds} samples of {HIDDEN_TAG_NOTES}\n")
        print("| rule | P@3 | R@3 | tags a note | right - wrong a note | tags dropped | of them right |\n|---|---|---|---|---|---|---|")
        for name, _, _ in rules:
            pooled = pooled_hashtags(rows[name])
            notes, proposed, right, dropped, dropped_right = totals[name]
            print(f"| {name} | {pooled['precision@3']:.3f} | {pooled['recall@3']:.3f} | {proposed / notes:.2f} | "
                  f"{(2 * right - proposed) / notes:.3f} | {dropped} | {dropped_right} |", flush=True)


if __name__ == "__main__":
    main()
