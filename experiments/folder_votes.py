"""How much a tagged vault's folders vote for a note's hashtags, now that the model reads the note's folder.

    .venv/bin/python experiments/folder_votes.py [--seeds 3]

`engine.neighbour_tags` scores a tag by the related notes' votes plus `LINKED_WEIGHT` × the share of the notes the note
links with that carry it plus `FOLDER_WEIGHT` × the share of the other notes in its folder that do. Those weights were
chosen (2026-12-03, screened again 2026-12-04) when the model read a note's title and text alone. The shipped model
now reads its folder too (`ModelTraits.folder_line`), so its related notes already lean toward the note's folder,
and the folder's share may count the folder twice. This scores the engine's rule on protocol (a) at other weights
(the engine's own `neighbour_tags`, its module constants set for the run), the rest as shipped.

Related notes and samples as `tag_screen.hidden_tag_settings` gives them: on the tagged training collections of at
most 800 notes (where to decide, by right - wrong tags a note) and the four tagged validation collections (what to report).
"""

from __future__ import annotations

import argparse

from tag_screen import Tally, hidden_tag_settings

FOLDER_WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)
LINKED_WEIGHTS = (0.5, 1.0, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3, help="seeded samples of 50 hidden notes per collection, pooled")
    args = parser.parse_args()

    from notellm.engine import neighbour_tags as rule
    from notellm.training.heldout import HIDDEN_TAG_NOTES, SUGGESTERS, hashtag_metrics, pooled_hashtags

    shipped = (rule.LINKED_WEIGHT, rule.FOLDER_WEIGHT)
    weights = [(linked, folder) for linked in LINKED_WEIGHTS for folder in FOLDER_WEIGHTS]

    for label, datas, samples in hidden_tag_settings(args.seeds):
        rows = {pair: [] for pair in weights}
        totals = {pair: Tally() for pair in weights}
        votes = []
        for data, sample, setting in samples:
            votes.append(hashtag_metrics(data, {i: (None, SUGGESTERS["neighbour votes"](setting, i)) for i in sample}))
            for pair in weights:
                rule.LINKED_WEIGHT, rule.FOLDER_WEIGHT = pair
                answers = {i: SUGGESTERS["engine"](setting, i) for i in sample}
                rows[pair].append(hashtag_metrics(data, {i: (None, tags) for i, tags in answers.items()}))
                totals[pair].add(data, answers)
            rule.LINKED_WEIGHT, rule.FOLDER_WEIGHT = shipped
        print(f"\n{label}: {len(datas)} tagged collections, {args.seeds} samples of {HIDDEN_TAG_NOTES}; "
              f"neighbour votes (the baseline) P@3 {pooled_hashtags(votes)['precision@3']:.3f}\n")
        print("| linked weight | folder weight | P@3 | R@3 | tags a note | right - wrong a note |\n|---|---|---|---|---|---|")
        for pair in weights:
            pooled = pooled_hashtags(rows[pair])
            per_note, margin = totals[pair].per_note()
            mark = " (shipped)" if pair == shipped else ""
            print(f"| {pair[0]:g} | {pair[1]:g}{mark} | {pooled['precision@3']:.3f} | {pooled['recall@3']:.3f} | "
                  f"{per_note:.2f} | {margin:.3f} |", flush=True)


if __name__ == "__main__":
    main()
