"""The hashtag writer as a judge in a tagged vault, scored on protocol (a) (50 notes' tags hidden).

    .venv/bin/python experiments/writer_tagged.py [WRITER.gguf] [--seeds 3]

For each hidden note of the tagged validation collections the candidates are the vault's tags its related notes
carry (votes 1 / rank over the 50 closest, `engine.neighbour_tags`' weighting) and the vault's three most common
tags. The writer scores each as the first tag of the note's answer (`engine.writer.HashtagWriter.tag_scores`). A
rule keeps as many tags as the engine's neighbour votes give for that note (so precision compares choices, not
answer lengths) and takes the best by log(votes over the 10 closest + votes over the 50 closest × `FAR`, + ε)
+ λ × the writer's score. Related notes are ranked as the benchmark ranks them (the default's vectors fused with
the lexical match at equal weight). Scores are cached under .cache/heldout/tagged-scores-<writer key>/.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

FAR = 0.1
EPSILON = 0.05
LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("writer", nargs="?", default=str(REPO / "assets" / "models" / "notellm-writer.gguf"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import heldout as bench  # bench/heldout.py: its caches
    import numpy as np
    from notellm.engine.hashtags import tag_key
    from notellm.engine.neighbour_tags import FALLBACK_NEIGHBOURS, NEIGHBOURS, tag_votes
    from notellm.engine.writer import HashtagWriter
    from notellm.training.heldout import (HASHTAG_COUNT, HIDDEN_TAG_NOTES, neighbour_votes, tag_setting,
                                         tagged_sample, tagged_vaults)

    writer_path = Path(args.writer)
    collections = bench.validation_collections()[2]
    tagged = tagged_vaults(collections)
    folder = bench.CACHE / f"tagged-scores-{bench.model_key(writer_path, 0)}"
    folder.mkdir(parents=True, exist_ok=True)
    default_key = bench.model_key(REPO / "assets" / "models" / "notellm-default.gguf", 128)
    writer = None

    notes = []  # (collection, gold keys, baseline tags, {key: (near votes, far votes, writer score, spelling)})
    for data in tagged:
        vectors = bench.cached_vectors("default", default_key, data, None)[0]
        untagged = bench.untagged_vectors("default", default_key, data, None)
        popular = [tag for tag, _ in Counter(tag for note in data.notes for tag in note["tags"]).most_common(HASHTAG_COUNT)]
        for seed in range(args.seeds):
            sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
            setting = tag_setting(data, vectors, set(sample), untagged)
            path = folder / f"{data.name}-{seed}.json"
            cached = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            for i in sample:
                neighbours = [setting.visible[j] for j in setting.nearest[i]]
                near, far = tag_votes(neighbours[:NEIGHBOURS], set()), tag_votes(neighbours[:FALLBACK_NEIGHBOURS], set())
                spelling = {}
                for tag in [tag for tags in neighbours[:FALLBACK_NEIGHBOURS] for tag in tags] + popular:
                    spelling.setdefault(tag_key(tag), tag)
                candidates = sorted(far, key=lambda key: -far[key])[:10] + [tag_key(tag) for tag in popular]
                candidates = list(dict.fromkeys(candidates))
                if str(i) not in cached:
                    writer = writer or HashtagWriter(writer_path, threads=args.threads)
                    note = data.notes[i]
                    cached[str(i)] = writer.tag_scores(note["title"], note["text"], [spelling[k] for k in candidates], HASHTAG_COUNT)
                scores = {tag_key(tag): value for tag, value in cached[str(i)].items()}
                baseline = neighbour_votes(setting, i)
                features = {key: (near.get(key, 0.0), far.get(key, 0.0), scores[key], spelling[key]) for key in candidates if key in scores}
                notes.append((data.name, {tag_key(tag) for tag in data.notes[i]["tags"]}, baseline, features))
            path.write_text(json.dumps(cached, ensure_ascii=False), encoding="utf-8")
            print(f"{data.name} seed {seed}: {len(sample)} notes", file=sys.stderr, flush=True)

    def precision(answers):
        per = {}
        for (name, gold, _, _), tags in zip(notes, answers):
            if tags:
                per.setdefault(name, []).append(sum(tag_key(t) in gold for t in tags) / len(tags))
        pooled = [value for values in per.values() for value in values]
        return float(np.mean(pooled)), {name.split("__")[0]: float(np.mean(values)) for name, values in per.items()}

    def chosen(lam: float, far_weight: float = FAR, keep_count: bool = True):
        answers = []
        for _, _, baseline, features in notes:
            count = len(baseline) if keep_count else HASHTAG_COUNT
            score = {key: math.log(near + far_weight * far + EPSILON) + lam * judged
                     for key, (near, far, judged, _) in features.items()}
            answers.append([features[key][3] for key in sorted(score, key=lambda k: -score[k])[:count]])
        return answers

    print("| rule | (a) P@3 | per collection |\n|---|---|---|")
    rows = {"neighbour votes (protocol (a)'s baseline)": [baseline for _, _, baseline, _ in notes]}
    for lam in LAMBDAS:
        rows[f"votes × writer, λ = {lam}, as many tags as the votes give"] = chosen(lam)
    for lam in (0.0, 0.3, 1.0):
        rows[f"votes × writer, λ = {lam}, always three"] = chosen(lam, keep_count=False)
    rows["the writer alone over the candidates"] = chosen(1e6)
    for name, answers in rows.items():
        pooled, per = precision(answers)
        print(f"| {name} | {pooled:.3f} | {', '.join(f'{k} {v:.3f}' for k, v in per.items())} |")


if __name__ == "__main__":
    main()
