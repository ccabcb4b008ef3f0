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
import sys
import time
from collections import defaultdict

import numpy as np



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


def in_sample_counts(vectors, lexical_scores, data, counts, fitted):
    """Per linking note of `counts` (`map_counts`), the links found per weighting by the map fitted to them all."""
    from notellm.engine import fusion_weight, vault_map
    from notellm.training.heldout import lexical_pool, named_notes, note_folders

    folders, named = dict(enumerate(note_folders(data))), named_notes(data)
    row_of = {source: row for row, source in enumerate(data.sources)}
    seen = vault_map.MappedVectors(np.arange(len(vectors)), vectors, fitted)
    found = []
    for example in counts.examples:
        model = [row for row, _ in seen.search(example.vector, fusion_weight.POOL + 1) if row != example.row][:fusion_weight.POOL]
        words = lexical_pool(lexical_scores[row_of[example.row]], example.row)
        found.append(fusion_weight.found_per_weighting(model, words, example.targets, folders, folders[example.row], named[example.row]))
    return found


def main() -> None:
    from heldout_cache import cached_collections
    from tables import print_recall_table

    from notellm.engine import vault_map
    from notellm.engine.fusion_weight import UNCHOSEN, choose_weighting
    from notellm.training.heldout import (WEIGHT_FOLDS, LexicalRanker, cosine_scores, engine_ranks, found_in_all, link_metrics,
                                          map_counts, named_notes, source_folds)

    folder, collections = cached_collections("--training" in sys.argv[1:])
    names = [data.name.split("__")[0] for data in collections]
    app: dict[str, list[float]] = defaultdict(list)
    for data in collections:
        started = time.time()
        vectors = np.load(folder / f"{data.name}.npz")["vectors"].astype(np.float32)
        lexical = LexicalRanker().scores(data.notes, data.sources)
        named = named_notes(data)
        fold_of = source_folds(data)
        link_fold = np.array([fold_of[source] for source, _ in data.links])
        plain_scores = cosine_scores(vectors, data.sources)
        ranks = {name: np.empty(len(data.links), dtype=int) for name in RULES}
        kept_in = defaultdict(int)
        for fold in range(WEIGHT_FOLDS):
            counts = map_counts(vectors, lexical, data, [s for s in data.sources if fold_of[s] != fold])
            fitted, enough = vault_map.fit(vectors, counts.examples), bool(counts.mapped)
            plain_weighting, mapped_weighting = choose_weighting(found_in_all(counts.plain)), choose_weighting(found_in_all(counts.mapped))
            # Always mapped, the weighting chosen without the held-out fits: by the rankings of the map that saw the
            # links, or by the vectors as they are.
            in_sample = in_sample_counts(vectors, lexical, data, counts, fitted) if enough else []
            extra = {"always, weighted by the fitted map's own rankings": choose_weighting(found_in_all(in_sample)),
                     "always, weighted by the vectors as they are": plain_weighting}
            differences = [m[mapped_weighting] - p[plain_weighting] for p, m in zip(counts.plain, counts.mapped)]
            gain, squares = sum(differences), sum(d * d for d in differences)
            here = link_fold == fold
            outcome = {}
            for name, rule in RULES.items():
                kept = enough and rule(gain, squares, counts.links)
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
