"""Rules by which a vault keeps its map (`engine.vault_map.keeps`), screened on the same held-out rankings.

    .venv/bin/python experiments/map_keep_rules.py [--training]

The engine keeps a vault's map where its sampled linking notes, each ranked by the map the other folds fitted,
find at least 1% more links (one at least) than the vectors as they are. On a small vault that choice is noisy:
vanadium23 (ru, 112 links) kept a map in three of five folds that the fifth's links did not bear out. This script
makes each fold's choice as `training.heldout.map_choice` makes it, once, and then applies every rule below to the
same counts: a larger share of the links, or a paired test over the linking notes (each note's links found with the
map at its best weighting less those found without at theirs; the sum must reach z times the root of the sum of the
squares, the spread that sum would have if the map changed nothing). Two more rows always map, as `always` does, but
choose the weighting without the five held-out fits (one fit instead of six): by the fitted map's own rankings of
the links it was fitted to, or by the vectors as they are. Macro Recall@10 of the app's ranking, each
fold's links ranked as the other folds chose (`vault_map_ranks`'s protocol). `--training` runs on the training
collections `bench/heldout.py` cached for the hashtag screens (in-vault: the model learnt their links), where a rule
can be chosen away from the validation collections.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def share_rule(share: float):
    return lambda gain, squares, links: gain >= max(1, math.ceil(share * links))


def paired_rule(z: float, share: float = 0.01):
    return lambda gain, squares, links: gain >= max(1, math.ceil(share * links)) and gain >= z * math.sqrt(squares)


RULES = {
    "never": lambda gain, squares, links: False,
    "always": lambda gain, squares, links: True,
    "no fewer links": lambda gain, squares, links: gain >= 0,
    "more links, one at least": lambda gain, squares, links: gain >= 1,
    "1% of the links (the engine's)": share_rule(0.01),
    "2%": share_rule(0.02),
    "3%": share_rule(0.03),
    "5%": share_rule(0.05),
    "paired, z 1": paired_rule(1.0),
    "paired, z 1.5": paired_rule(1.5),
    "paired, z 2": paired_rule(2.0),
}


def fold_counts(vectors, lexical_scores, data, choosing):
    """As `map_choice`: per sampled linking note, the links found per weighting without the map and with its
    held-out ranking; and the map fitted on them all."""
    from notellm.engine import fusion_weight, vault_map
    from notellm.training.heldout import cosine_scores, lexical_pool, model_pool, named_notes, note_folders

    folders, named = dict(enumerate(note_folders(data))), named_notes(data)
    row_of = {source: row for row, source in enumerate(data.sources)}
    targets = defaultdict(set)
    for source, target in data.links:
        targets[source].add(target)
    choosing = sorted(choosing)
    if len(choosing) > fusion_weight.MAX_SOURCES:
        choosing = sorted(random.Random(0).sample(choosing, fusion_weight.MAX_SOURCES))
    examples = [vault_map.Example(source, vectors[source], frozenset(targets[source])) for source in choosing]

    def found(source, model):
        words = lexical_pool(lexical_scores[row_of[source]], source)
        return fusion_weight.found_per_weighting(model, words, targets[source], folders, folders[source], named[source])

    raw = cosine_scores(vectors, choosing)
    plain = [found(source, model_pool(raw[row], source)) for row, source in enumerate(choosing)]
    held = vault_map.held_out_rankings(vectors, examples, fusion_weight.POOL)
    mapped = [found(example.row, held[i]) for i, example in enumerate(examples)]
    links = sum(len(targets[source]) for source in choosing)
    fitted = vault_map.fit(vectors, examples)
    seen = vault_map.MappedVectors(np.arange(len(vectors)), vectors, fitted)
    in_sample = [found(example.row, [row for row, _ in seen.search(example.vector, fusion_weight.POOL + 1) if row != example.row][:fusion_weight.POOL])
                 for example in examples]
    return plain, mapped, in_sample, links, fitted, len(choosing) >= fusion_weight.MIN_SOURCES


def totals(per_note):
    from notellm.engine import fusion_weight

    total = dict.fromkeys(fusion_weight.WEIGHTINGS, 0)
    for found in per_note:
        for weighting, count in found.items():
            total[weighting] += count
    return total


def main() -> None:
    import heldout as bench
    from tables import print_recall_table

    from notellm.engine.fusion_weight import UNCHOSEN, choose_weighting
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.heldout import (WEIGHT_FOLDS, LexicalRanker, cosine_scores, engine_ranks, link_metrics,
                                          named_notes, source_folds)

    key = bench.model_key(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    if "--training" in sys.argv[1:]:
        from notellm.training.corpus import DEFAULT_CORPUS, extract
        from notellm.training.heldout import read_collection

        folder = f"default-train-{key}"
        collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                       for c in bench.small_training_collections(10**9, 0) if (bench.CACHE / folder / f"{c.name}.npz").exists()]
    else:
        folder = f"default-{key}"
        _, _, collections = bench.validation_collections()
    names = [data.name.split("__")[0] for data in collections]
    app: dict[str, list[float]] = defaultdict(list)
    for data in collections:
        started = time.time()
        vectors = np.load(bench.CACHE / folder / f"{data.name}.npz")["vectors"].astype(np.float32)
        lexical = LexicalRanker().scores(data.notes, data.sources)
        named = named_notes(data)
        fold_of = source_folds(data)
        link_fold = np.array([fold_of[source] for source, _ in data.links])
        plain_scores = cosine_scores(vectors, data.sources)
        ranks = {name: np.empty(len(data.links), dtype=int) for name in RULES}
        kept_in = defaultdict(int)
        for fold in range(WEIGHT_FOLDS):
            plain, mapped, in_sample, links, fitted, enough = fold_counts(vectors, lexical, data, [s for s in data.sources if fold_of[s] != fold])
            plain_total, mapped_total = totals(plain), totals(mapped)
            plain_weighting, mapped_weighting = choose_weighting(plain_total), choose_weighting(mapped_total)
            # Always mapped, the weighting chosen without the held-out fits: by the rankings of the map that saw the
            # links, or by the vectors as they are.
            extra = {"always, weighted by the fitted map's own rankings": choose_weighting(totals(in_sample)),
                     "always, weighted by the vectors as they are": plain_weighting}
            differences = [m[mapped_weighting] - p[plain_weighting] for p, m in zip(plain, mapped)]
            gain, squares = sum(differences), sum(d * d for d in differences)
            here = link_fold == fold
            outcome = {}
            for name, rule in RULES.items():
                kept = enough and rule(gain, squares, links)
                kept_in[name] += kept
                if kept not in outcome:
                    scores = cosine_scores(vectors @ fitted, data.sources) if kept else plain_scores
                    weighting = (mapped_weighting if kept else plain_weighting) if enough else UNCHOSEN
                    outcome[kept] = engine_ranks(scores, lexical, data, (weighting,), named)[weighting]
                ranks[name][here] = outcome[kept][here]
            mapped_scores = cosine_scores(vectors @ fitted, data.sources)
            for name, weighting in extra.items():
                weighting = weighting if enough else UNCHOSEN
                ranks.setdefault(name, np.empty(len(data.links), dtype=int))
                ranks[name][here] = engine_ranks(mapped_scores if enough else plain_scores, lexical, data, (weighting,), named)[weighting][here]
                kept_in[name] += enough
        for name in ranks:
            app[name].append(link_metrics(ranks[name])["R@10"])
        print(data.name, f"{time.time() - started:.0f} s",
              {name: (round(app[name][-1], 3), kept_in[name]) for name in ranks}, flush=True)
    print_recall_table("the app's ranking, R@10, by the rule that keeps the map", names, app)


if __name__ == "__main__":
    main()
