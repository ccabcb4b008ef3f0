"""How many hashtags a tagged vault's note should get, on the tagged protocol (a).

    .venv/bin/python experiments/tag_count.py [--seeds 3] [--first-seed 0] [--validation-only]

`engine.neighbour_tags` chooses its tags by one score (the related notes' votes, the linked notes' and the folder's
shares, `tag_scores`) but counts them by another: as many as reach one vote among the 10 closest related notes
(`vote_count`). Protocol (a)'s precision@3 is the share of the proposed tags that are the note's own, so a wrong
second or third tag costs as much as a wrong first one; recall@3 is what a shorter answer gives up. Count rules:

- the engine's before (the votes' count), and always 1, 2 or 3 tags for scale;
- the tags whose score reaches a share r of the best tag's score (at least one, at most three);
- the tags whose score reaches t (at least one);
- the votes' count, cut to the tags reaching r × the best (the engine's rule since, at r = `KEEP_SHARE`);
- and, for the target's bar, protocol (a)'s baseline (`training.heldout.neighbour_votes`).

The measure to choose by: right - wrong tags a note (a tag is worth proposing when it is
more often right than wrong), on the training collections.

Related notes as the app's panel ranks them (`training.heldout.tag_setting`), the weighting chosen from all of the
collection's links, seeded samples of 50 hidden notes pooled. On the tagged training collections of at most 800
notes (where to decide; the model trained on their links, so their related notes are in-vault) and the four tagged
validation collections (what to report). With `--lexical`, related notes by the lexical match alone, which no model
trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
MAX_NOTES = 800
SHARES = (0.3, 0.4, 0.5, 0.6, 0.7)
THRESHOLDS = (0.5, 1.0, 1.5, 2.0, 3.0)
VOTES = "neighbour votes (protocol (a)'s baseline: its own count, no cut)"
ENGINE = "the engine now (`neighbour_tags`: the votes' count, cut at `KEEP_SHARE` x best)"


def count_rules() -> dict:
    """{rule: count(the scores best first, the votes' count) -> how many tags}."""
    rules = {"the votes' count (the engine before)": lambda scores, votes: max(votes, 1)}
    for fixed in (1, 2, 3):
        rules[f"always {fixed}"] = lambda scores, votes, fixed=fixed: fixed
    for share in SHARES:
        rules[f"score >= {share} x best"] = lambda scores, votes, share=share: sum(s >= share * scores[0] for s in scores[:3])
    for threshold in THRESHOLDS:
        rules[f"score >= {threshold}"] = lambda scores, votes, t=threshold: max(1, sum(s >= t for s in scores[:3]))
    for share in SHARES:
        rules[f"votes' count, cut at {share} x best"] = (
            lambda scores, votes, share=share: max(1, min(votes, sum(s >= share * scores[0] for s in scores[:3]))))
    return rules


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3, help="seeded samples of 50 hidden notes per collection, pooled")
    parser.add_argument("--first-seed", type=int, default=0, help="the first sample's seed (the benchmark's are 0-4)")
    parser.add_argument("--validation-only", action="store_true")
    parser.add_argument("--lexical", action="store_true",
                        help="related notes by the lexical match alone (no model, so the training collections are not in-vault)")
    args = parser.parse_args()
    import heldout as bench

    from notellm.engine import fusion_weight
    from notellm.engine.hashtags import tag_key
    from notellm.engine.neighbour_tags import neighbour_tags, spelled, tag_scores, vote_count
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import (HASHTAG_COUNT, HIDDEN_TAG_NOTES, hashtag_metrics, neighbour_votes,
                                         panel_weighting, pooled_hashtags, read_collection, tag_setting, tagged_sample,
                                         tagged_vaults)

    key, embed = bench.note_embedder(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    _, split, validation = bench.validation_collections()
    training = [c for c in split.train if c.notes <= MAX_NOTES]
    rules = count_rules()
    rules[ENGINE] = None  # `engine.neighbour_tags` itself
    rules[VOTES] = None  # protocol (a)'s baseline

    def answers(setting, index: int) -> dict[str, list[str]]:
        note = setting.note_terms(index)
        lists = [setting.visible[j] for j in setting.nearest[index]]
        own = {tag_key(tag) for tag in note.own_tags}
        score = tag_scores(lists, own, note.terms, note.linked_tag_lists, note.folder_tag_lists)
        best = sorted(score, key=lambda k: (-score[k], k))[:HASHTAG_COUNT]
        votes = vote_count(lists, own, HASHTAG_COUNT)
        tags = spelled(best, (*lists, *note.linked_tag_lists, *note.folder_tag_lists))
        out = {rule: tags[:count([score[k] for k in best], votes)] if best else [] for rule, count in rules.items() if count}
        out[ENGINE] = neighbour_tags(lists, note.own_tags, HASHTAG_COUNT, note_terms=note.terms,
                                     linked_tag_lists=note.linked_tag_lists, folder_tag_lists=note.folder_tag_lists)
        out[VOTES] = neighbour_votes(setting, index)
        return out

    def judged(data, method: str) -> tuple[dict[str, list[dict]], dict[str, list[int]]]:
        vectors = bench.cached_vectors(method, key, data, embed)[0]
        untagged = None if args.lexical else bench.untagged_vectors(method, key, data, embed)
        weighting = fusion_weight.DEFAULT if args.lexical else panel_weighting(vectors, data)
        out = {rule: [] for rule in rules}
        counts = {rule: [0, 0, 0] for rule in rules}  # notes, tags proposed, tags right
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
            setting = tag_setting(data, None if args.lexical else vectors, set(sample), untagged, weighting=weighting)
            by_note = {i: answers(setting, i) for i in sample}
            for rule in rules:
                out[rule].append(hashtag_metrics(data, {i: (None, by_note[i][rule]) for i in sample}))
                for i in sample:
                    gold = {tag_key(tag) for tag in data.notes[i]["tags"]}
                    counts[rule][0] += 1
                    counts[rule][1] += len(by_note[i][rule])
                    counts[rule][2] += sum(tag_key(tag) in gold for tag in by_note[i][rule])
        return out, counts

    for label, collections, method in (("training", training, "default-train"), ("validation", None, "default"))[args.validation_only:]:
        datas = tagged_vaults(validation if collections is None else
                              [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in collections])
        rows = {rule: [] for rule in rules}
        totals = {rule: [0, 0, 0] for rule in rules}
        per_collection = {}
        for data in datas:
            out, counts = judged(data, method)
            for rule in rules:
                totals[rule] = [a + b for a, b in zip(totals[rule], counts[rule])]
            per_collection[data.name] = {rule: pooled_hashtags(out[rule]) for rule in rules}
            for rule in rules:
                rows[rule] += out[rule]
            print(f"{label}: {data.name} done", file=sys.stderr, flush=True)
        names = list(per_collection)
        print(f"\n{label}: {len(datas)} tagged collections, {args.seeds} samples of {HIDDEN_TAG_NOTES}\n")
        print("| count rule | P@3 | R@3 | tags a note | right - wrong a note | " + " | ".join(names) + " |")
        print("|---|---|---|---|---|" + "---|" * len(names))
        for rule in rules:
            pooled = pooled_hashtags(rows[rule])
            notes, proposed, right = totals[rule]
            print(f"| {rule} | {pooled['precision@3']:.3f} | {pooled['recall@3']:.3f} | {proposed / notes:.2f} | "
                  f"{(2 * right - proposed) / notes:.3f} | "
                  + " | ".join(f"{per_collection[name][rule]['precision@3']:.3f}" for name in names) + " |", flush=True)


if __name__ == "__main__":
    main()
