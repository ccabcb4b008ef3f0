"""Whether a tagged vault's second and third hashtags should give way to the first when the vault never tags a note
with both (alternatives, such as `status/writing` and `status/completed`, or `cs` and `ee`).

    .venv/bin/python experiments/exclusive_tags.py [--seeds 3]

`engine.neighbour_tags` proposes up to three tags by one score. Some vaults tag by facets whose values exclude each
other: a note has one status, one course. Where the first tag and a later one are each carried by at least M
(2, 3 or 5) notes of the evidence and never by the same note, the later one is likely wrong. Evidence: the
vault's notes with visible tags (`vault`), or only the tag lists the rule already reads (the related notes', the
linked notes' and the folder's: `local`). For each rule, protocol (a) over `tag_screen.hidden_tag_settings`: the
panel's related notes, seeded samples of 50 hidden notes pooled, on the tagged training collections of at most 800
notes (where to decide, by right - wrong tags a note) and the four tagged validation collections (what to report).
The tags the rule drops are counted with how often they were right.
"""

from __future__ import annotations

import argparse
from collections import Counter
from itertools import combinations

from tag_screen import Tally, hidden_tag_settings


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

    from notellm.engine.hashtags import tag_key
    from notellm.training.heldout import HIDDEN_TAG_NOTES, SUGGESTERS, hashtag_metrics, pooled_hashtags

    rules = [("shipped", None, 0)] + [(f"{where}, ≥ {m} carriers", where, m) for where in ("vault", "local") for m in (2, 3, 5)]

    for label, datas, samples in hidden_tag_settings(args.seeds):
        rows = {name: [] for name, _, _ in rules}
        totals = {name: Tally() for name, _, _ in rules}
        dropped = {name: [0, 0] for name, _, _ in rules}  # tags dropped, of them right
        for data, sample, setting in samples:
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
                        lists = [setting.visible[j] for j in (*setting.nearest[i], *setting.linked[i], *setting.folder_mates[i])]
                        single, pair = cooccurrence(lists)
                    first = tag_key(tags[0])
                    answers[i] = [tags[0]] + [t for t in tags[1:] if not exclusive(first, tag_key(t), single, pair, min_carriers)]
                    gold = {tag_key(tag) for tag in data.notes[i]["tags"]}
                    left_out = [t for t in tags if t not in answers[i]]
                    dropped[name][0] += len(left_out)
                    dropped[name][1] += sum(tag_key(t) in gold for t in left_out)
                rows[name].append(hashtag_metrics(data, {i: (None, tags) for i, tags in answers.items()}))
                totals[name].add(data, answers)
        print(f"\n{label}: {len(datas)} tagged collections, {args.seeds} samples of {HIDDEN_TAG_NOTES}\n")
        print("| rule | P@3 | R@3 | tags a note | right - wrong a note | tags dropped | of them right |\n|---|---|---|---|---|---|---|")
        for name, _, _ in rules:
            pooled = pooled_hashtags(rows[name])
            per_note, margin = totals[name].per_note()
            print(f"| {name} | {pooled['precision@3']:.3f} | {pooled['recall@3']:.3f} | {per_note:.2f} | "
                  f"{margin:.3f} | {dropped[name][0]} | {dropped[name][1]} |", flush=True)


if __name__ == "__main__":
    main()
