"""Hashtags in a tagged vault, protocol (a): the related notes' votes against a text classifier fitted on the vault.

    .venv/bin/python experiments/tagged_rules.py [--seeds 3]

For each hidden note of the tagged validation collections (3 seeded samples of 50), every tag the vault shows is
scored three ways: the related notes' votes (`engine.neighbour_tags`: 1 / rank over the 10 closest, and over the
50 closest); a naive Bayes score fitted on the vault's visible tagged notes, sum over the note's distinct terms
(`engine.lexical`) of log p(term | the tag's notes) - log p(term | all tagged notes), add-`SMOOTHING`, plus the
log share of tagged notes carrying the tag; and whether the tag's name is a term of the note. A rule keeps as
many tags as the engine's votes give for that note (so precision compares choices, not answer lengths), or always
three, and takes the best by log(near votes + `FAR` × far votes + `EPSILON`) + β × the naive Bayes score
(z-scored over the vault's tags for that note) + δ × the name being in the note. Related notes are ranked as the
benchmark ranks them: the default's vectors (cached by `bench/heldout.py`) fused with the lexical match.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

FAR = 0.1
EPSILON = 0.05
SMOOTHING = 0.1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    import heldout as bench  # bench/heldout.py: its caches
    import numpy as np
    from notellm.engine.hashtags import tag_key
    from notellm.engine.neighbour_tags import FALLBACK_NEIGHBOURS, NEIGHBOURS, neighbour_tags, tag_votes
    from notellm.training.heldout import (HASHTAG_COUNT, HIDDEN_TAG_NOTES, neighbour_votes, tag_setting,
                                         tagged_sample, tagged_vaults)

    collections = bench.validation_collections()[2]
    default_key = bench.model_key(REPO / "assets" / "models" / "notellm-default.gguf", 128)

    notes = []  # (collection, gold keys, baseline tags, {key: (near, far, naive Bayes z, name in note, spelling)})
    for data in tagged_vaults(collections):
        vectors = bench.cached_vectors("default", default_key, data, None)[0]
        untagged = bench.untagged_vectors("default", default_key, data, None)
        for seed in range(args.seeds):
            sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
            setting = tag_setting(data, vectors, set(sample), untagged)
            bayes, keys, spelling, vocabulary = _naive_bayes(setting, tag_key, np)
            for i in sample:
                neighbours = [setting.visible[j] for j in setting.nearest[i]]
                near, far = tag_votes(neighbours[:NEIGHBOURS], set()), tag_votes(neighbours[:FALLBACK_NEIGHBOURS], set())
                terms = {vocabulary[t] for t in setting.terms[i] if t in vocabulary}
                present = np.zeros(len(vocabulary))
                present[list(terms)] = 1.0
                present[-1] = 1.0  # the prior's column
                scores = bayes @ present
                z = (scores - scores.mean()) / (scores.std() + 1e-9)
                own_terms = {tag_key(t) for t in setting.terms[i]}
                features = {key: (near.get(key, 0.0), far.get(key, 0.0), float(z[k]), key in own_terms, spelling[key]) for k, key in enumerate(keys)}
                baseline = neighbour_votes(setting, i)
                shipped = neighbour_tags(neighbours, [], HASHTAG_COUNT, note_terms=setting.terms[i])
                notes.append((data.name, {tag_key(tag) for tag in data.notes[i]["tags"]}, baseline, features, shipped))
            print(f"{data.name} seed {seed}: {len(keys)} tags", file=sys.stderr, flush=True)

    def precision(answers):
        per = {}
        for (name, gold, *_), tags in zip(notes, answers):
            if tags:
                per.setdefault(name, []).append(sum(tag_key(t) in gold for t in tags) / len(tags))
        pooled = [value for values in per.values() for value in values]
        return float(np.mean(pooled)), {name.split("__")[0]: float(np.mean(values)) for name, values in per.items()}

    def chosen(beta: float, delta: float = 0.0, votes: bool = True, keep_count: bool = True):
        answers = []
        for _, _, baseline, features, _ in notes:
            count = len(baseline) if keep_count else HASHTAG_COUNT
            score = {key: (math.log(near + FAR * far + EPSILON) if votes else 0.0) + beta * z + delta * named
                     for key, (near, far, z, named, _) in features.items()}
            answers.append([features[key][4] for key in sorted(score, key=lambda k: -score[k])[:count]])
        return answers

    rows = {"neighbour votes (protocol (a)'s baseline)": [baseline for _, _, baseline, _, _ in notes],
            "the engine (`engine.neighbour_tags`, the note's words given)": [shipped for *_, shipped in notes],
            "votes near and far": chosen(0.0),
            "naive Bayes alone": chosen(1.0, votes=False),
            "naive Bayes alone, always three": chosen(1.0, votes=False, keep_count=False)}
    for beta in (0.25, 0.5, 1.0, 2.0):
        rows[f"votes + naive Bayes, β = {beta}"] = chosen(beta)
    for delta in (0.5, 1.0, 2.0):
        rows[f"votes + the name in the note, δ = {delta}"] = chosen(0.0, delta)
        rows[f"votes + naive Bayes β = 0.5 + the name, δ = {delta}"] = chosen(0.5, delta)
    print("| rule | (a) P@3 | per collection |\n|---|---|---|")
    for name, answers in rows.items():
        pooled, per = precision(answers)
        print(f"| {name} | {pooled:.3f} | {', '.join(f'{k} {v:.3f}' for k, v in per.items())} |")


def _naive_bayes(setting, tag_key, np):
    """(tags × terms log-likelihood ratios plus each row's log prior, the tag keys, their spelling, term -> column)
    over the visible tagged notes' distinct terms."""
    tagged = [i for i, tags in enumerate(setting.visible) if tags]
    vocabulary = {}
    for i in tagged:
        for term in set(setting.terms[i]):
            vocabulary.setdefault(term, len(vocabulary))
    keys, spelling = [], {}
    for i in tagged:
        for tag in setting.visible[i]:
            if tag_key(tag) not in spelling:
                spelling[tag_key(tag)] = tag
                keys.append(tag_key(tag))
    row_of = {key: k for k, key in enumerate(keys)}
    counts = np.zeros((len(keys), len(vocabulary)))
    carriers = np.zeros(len(keys))
    background = np.zeros(len(vocabulary))
    for i in tagged:
        columns = [vocabulary[t] for t in set(setting.terms[i])]
        background[columns] += 1
        for key in {tag_key(tag) for tag in setting.visible[i]}:
            counts[row_of[key], columns] += 1
            carriers[row_of[key]] += 1
    p_term = np.log((counts + SMOOTHING) / (carriers[:, None] + 2 * SMOOTHING))
    p_background = np.log((background + SMOOTHING) / (len(tagged) + 2 * SMOOTHING))
    prior = np.log(carriers / len(tagged))
    # the prior rides on a constant term every note holds: the last column
    ratios = np.concatenate([p_term - p_background, prior[:, None]], axis=1)
    vocabulary["\0prior"] = len(vocabulary)
    return ratios, keys, spelling, vocabulary


if __name__ == "__main__":
    main()
