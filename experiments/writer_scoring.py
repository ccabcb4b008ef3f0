"""The hashtag writer as a judge of candidate tags instead of a free writer, scored on the untagged protocol (b).

    .venv/bin/python experiments/writer_scoring.py [WRITER.gguf] [--notes N]

For every note of the tagged validation collections, with every tag hidden: the candidates are the note's own
words (`engine.vocabulary_tags`, its best `WORD_CANDIDATES`) and the tags the writer writes greedily. Each
candidate `c` is scored by the writer as the first tag of its answer (`engine.writer.HashtagWriter.tag_scores`:
log p(" #c," | the note's prompt and cue)), less `prior_weight` × the same for an empty note (how much the
writer likes `c` anywhere: its house labels). A rule takes the best three, optionally with each tag held to the
10% of the vault's notes it fits best, or after the default model's tag head's first tag, as the engine puts it.
Rules an engine could keep for the note on screen: the writer's own tags only where the note holds them as words;
or a cap estimated from a seeded sample of the vault's notes (`SEEDS` samples, mean P@3, worst top share): the
tags the writer writes for more than 10% of the sample dropped, or each tag only where it scores at least as high
as at the given quantile of its scores over the sample.
Related notes (whose words vote in `vocabulary_tags`) are ranked by the lexical match alone here. Scores are cached
under .cache/heldout/scores-<writer key>/ so that rules are cheap to vary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

WORD_CANDIDATES = 12
SHARE = 0.10
SEEDS = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("writer", nargs="?", default=str(REPO / "assets" / "models" / "notellm-writer.gguf"))
    parser.add_argument("--notes", type=int, default=0, help="only the first N notes of each collection (a smoke run)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import heldout as bench  # bench/heldout.py: its caches
    from notellm.engine.hashtags import parse_topics, tag_key
    from notellm.training.heldout import (HASHTAG_COUNT, engine_suggestion, pooled_untagged, tag_setting, tagged_vaults,
                                         untagged_protocol, untagged_view, vocabulary_only)
    from notellm.engine.model import NoteModel
    from notellm.engine.writer import HashtagWriter
    from notellm.engine.vocabulary_tags import in_band, vocabulary_tags, weight_in_note, within_share

    writer = Path(args.writer)
    collections = bench.validation_collections()[2]
    tagged = tagged_vaults(collections)
    written = {name: answers for name, (answers, _) in bench.cached_writing(writer, tagged, args.threads).items()}
    folder = bench.CACHE / f"scores-{bench.model_key(writer, 0)}"
    folder.mkdir(parents=True, exist_ok=True)
    scorer = None

    default = REPO / "assets" / "models" / "notellm-default.gguf"
    model = NoteModel(default, threads=args.threads)
    key = bench.model_key(default, 128)

    def embed(notes):
        return model.embed_notes([(n["title"], n["text"]) for n in notes], 128)

    per_collection = {}
    for data in tagged:
        embeddings = bench.cached_vectors("default-untagged", key, untagged_view(data), embed)[0]
        setting = tag_setting(data, None, set(range(len(data.notes))), embeddings, model.tag_head)
        count = min(args.notes or len(data.notes), len(data.notes))
        path = folder / f"{data.name}-{count}.json"
        if path.exists():
            cached = json.loads(path.read_text(encoding="utf-8"))
        else:
            scorer = scorer or HashtagWriter(writer, threads=args.threads)
            prior = {}
            cached = {"notes": [], "prior": prior}
            for i in range(count):
                note = setting.note_terms(i)
                words = vocabulary_tags(setting.index, i, note.terms, note.title_terms, note.neighbour_terms, (), WORD_CANDIDATES)
                greedy = parse_topics(written[data.name][i], [], limit=HASHTAG_COUNT)
                candidates = list(dict.fromkeys(words + greedy))
                scores = scorer.tag_scores(data.notes[i]["title"], data.notes[i]["text"], candidates, HASHTAG_COUNT)
                missing = [tag for tag in scores if tag not in prior]
                prior.update(scorer.tag_scores("", "", missing, HASHTAG_COUNT))
                cached["notes"].append({"words": words, "greedy": greedy, "scores": scores})
                if i % 50 == 0:
                    print(f"{data.name}: {i}/{count}", file=sys.stderr, flush=True)
            path.write_text(json.dumps(cached, ensure_ascii=False), encoding="utf-8")
        per_collection[data.name] = (data, setting, cached, count)

    def head_tag(setting, i):  # the tag head's first tag, under suggest_hashtags' rule for it
        return [tag for tag in setting.model_tags(i)
                if not in_band(setting.index, tag) or weight_in_note(setting.index, tag, i) is not None][:1]

    def held_here(setting, tag, i, mode):
        """Whether the note itself holds the written tag as a term, among its heaviest holders (`weight_in_note`);
        mode "or-foreign": a tag that is no term of the vault passes too; "any-weight": held at all, share rule or not."""
        term = tag.casefold()
        if term not in setting.index.counts:
            return mode == "or-foreign"
        if mode == "any-weight":
            return term in set(setting.terms[i])
        return weight_in_note(setting.index, term, i) is not None

    def rule(prior_weight: float, capped: bool, greedy_too: bool = True, greedy_words: bool = False, head_first: bool = False,
             sampled: int = 0, quantile: int = 0, quantile_share: float = SHARE,
             held_words: str = ""):
        def ranked(data_name, seed=0):
            answers = judged(data_name, seed)
            if not head_first:
                return answers
            setting = per_collection[data_name][1]
            out = []
            for i, tags in enumerate(answers):
                head = head_tag(setting, i)
                out.append((head + [t for t in tags if tag_key(t) not in {tag_key(h) for h in head}])[:HASHTAG_COUNT])
            return out

        def judged(data_name, seed=0):
            data, setting, cached, count = per_collection[data_name]
            flooding = set()
            if sampled:  # the writer's own tags that it writes for more than SHARE of a sample of the vault's notes
                references = random.Random(seed).sample(range(count), min(sampled, count))
                written_for = Counter(key for r in references for key in {tag_key(t) for t in cached["notes"][r]["greedy"]})
                flooding = {key for key, n in written_for.items() if n > SHARE * len(references)}
            rows = []
            for i, note in enumerate(cached["notes"]):
                greedy = [tag for tag in note["greedy"] if (not greedy_words or
                          (tag.casefold() in setting.index.counts and within_share(setting.index, tag, i)))
                          and (not held_words or held_here(setting, tag, i, held_words))
                          and tag_key(tag) not in flooding]
                pool = note["words"] + (greedy if greedy_too else [])
                score = {tag: value - prior_weight * cached["prior"][tag] for tag, value in note["scores"].items() if tag in pool}
                rows.append(score)
            if quantile:  # each tag only where it scores at least its SHARE-quantile over a sample of the vault's notes
                references = random.Random(seed).sample(range(count), min(quantile, count))
                at_references = defaultdict(list)
                for r in references:
                    for tag, value in rows[r].items():
                        at_references[tag_key(tag)].append(value)
                rank = max(1, int(quantile_share * len(references)))
                floor = {key: sorted(values, reverse=True)[rank - 1] for key, values in at_references.items() if len(values) >= rank}
                return [[t for t in sorted(row, key=lambda t: -row[t]) if row[t] >= floor.get(tag_key(t), -float("inf"))][:HASHTAG_COUNT]
                        for row in rows]
            if not capped:
                return [sorted(row, key=lambda t: -row[t])[:HASHTAG_COUNT] for row in rows]
            # each tag goes only to the SHARE of the vault's notes where it scores best
            by_tag = defaultdict(list)
            for i, row in enumerate(rows):
                for tag, value in row.items():
                    by_tag[tag_key(tag)].append((value, i))
            allowed = set()
            cap = max(2, int(SHARE * len(data.notes)))
            for key, entries in by_tag.items():
                allowed |= {(key, i) for _, i in sorted(entries, reverse=True)[:cap]}
            return [[t for t in sorted(row, key=lambda t: -row[t]) if (tag_key(t), i) in allowed][:HASHTAG_COUNT]
                    for i, row in enumerate(rows)]
        return ranked

    rules = {"words (vocabulary, shipped step)": None}
    for prior_weight in (0.0, 0.5, 1.0):
        for capped in (False, True):
            rules[f"judged, prior × {prior_weight}, {'10% cap' if capped else 'no cap'}"] = rule(prior_weight, capped)
    rules["judged, greedy tags only where vault words within share, prior × 0"] = rule(0.0, False, greedy_words=True)
    rules["judged, greedy tags only where vault words within share, prior × 0.5"] = rule(0.5, False, greedy_words=True)
    rules["tag head's first, then judged words + writer's, prior × 0, 10% cap"] = rule(0.0, True, head_first=True)
    rules["tag head's first, then judged words only, prior × 0"] = rule(0.0, False, greedy_too=False, head_first=True)
    rules["tag head's first, then judged words only, prior × 0.5"] = rule(0.5, False, greedy_too=False, head_first=True)
    rules["tag head's first, then words (engine as shipped)"] = lambda name, seed=0: [
        engine_suggestion(per_collection[name][1], i) for i in range(len(per_collection[name][0].notes))]
    for prior_weight in (0.0, 0.5, 1.0):
        rules[f"judged words only, prior × {prior_weight}, 10% cap"] = rule(prior_weight, True, greedy_too=False)
    for sampled in (20, 40):
        for prior_weight in (0.0, 0.5):
            rules[f"judged, prior × {prior_weight}, writer's tags that it writes for > 10% of {sampled} sampled notes dropped"] = \
                rule(prior_weight, False, sampled=sampled)
        rules[f"tag head's first, then the same, {sampled} sampled, prior × 0"] = rule(0.0, False, head_first=True, sampled=sampled)
    for mode in ("held", "or-foreign", "any-weight"):
        for prior_weight in (0.0, 0.5):
            rules[f"judged, writer's tags only where the note holds them ({mode}), prior × {prior_weight}"] = \
                rule(prior_weight, False, held_words=mode)
        rules[f"tag head's first, then the same ({mode}), prior × 0.5"] = rule(0.5, False, head_first=True, held_words=mode)
    for quantile in (40, 80, 120):
        for share in (0.10, 0.05):
            for prior_weight in (0.0, 0.5):
                rules[f"judged, prior × {prior_weight}, each tag where it scores ≥ its {share:.0%} quantile over {quantile} sampled notes"] = \
                    rule(prior_weight, False, quantile=quantile, quantile_share=share)

    print("| rule | (b) coverage | (b) P@3 | (b) top share | per collection P@3 |\n|---|---|---|---|---|")
    for name, make in rules.items():
        pooled_runs, per = [], defaultdict(list)
        for seed in range(SEEDS if "sampled" in name else 1):  # a sampled rule: the mean over seeded samples
            rows = []
            for data_name, (data, setting, cached, count) in per_collection.items():
                answers = make(data_name, seed) if make else None
                subset = data if count == len(data.notes) else _first(data, count)

                def suggest(setting_, index, answers=answers):
                    return answers[index] if answers is not None else vocabulary_only(setting_, index)

                result = untagged_protocol(subset, None, {name: suggest})[name]
                rows.append(result)
                per[data_name.split('__')[0]].append(result['precision@3'])
            pooled_runs.append(pooled_untagged(rows))
            print("   top:", [(row["top_tag"], round(row["top_share"], 3)) for row in rows], file=sys.stderr)
        precision = sum(run['precision@3'] for run in pooled_runs) / len(pooled_runs)
        top_share = max(run['top_share'] for run in pooled_runs)
        coverage = min(run['coverage'] for run in pooled_runs)
        per_text = ', '.join(f"{short} {sum(values) / len(values):.3f}" for short, values in per.items())
        print(f"| {name} | {coverage:.0%} | {precision:.3f} | {top_share:.1%} | {per_text} |")


def _first(data, count):
    from dataclasses import replace

    return replace(data, notes=data.notes[:count])


if __name__ == "__main__":
    main()
