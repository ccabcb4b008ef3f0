"""A vault map fitted without links: the vault's own notes paired by what the engine already ranks, as a teacher.

    .venv/bin/python experiments/pseudo_map.py [--minilm] [--training] [--teacher lexical|fused|panel]

The vault map (`engine.vault_map`) needs links, and a new user's vault may have none. Here each note is paired
with its first few notes by the lexical match alone, or by the model and the lexical match fused at equal weight
(the fused ranking as a teacher, one of the model issue's levers, fitted per vault), and a map is fitted to those
pairs with the engine's `vault_map.fit`. No link is used, so every link of the collection scores it: macro Recall@10
of the mapped vectors alone, in the app's ranking at the weighting the collection's other links choose
(`app_ranks`), and in the ranking of a vault whose links are too few to choose one (`fusion_weight.UNCHOSEN`, what
a vault without links shows), against the vectors as they are.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

import numpy as np

TEACHERS = [("lexical", 3), ("fused", 3), ("fused", 5), ("fused", 10), ("panel", 3), ("panel", 5)]


def pseudo_targets(model: np.ndarray, words: np.ndarray, teacher: str, first: int, panel: list[list[int]]) -> dict[int, set[int]]:
    """{note: its `first` notes by the teacher}, every note an anchor: the lexical match, the model and the lexical
    match fused at equal weight, or the panel a vault without enough links shows (`panel`, each note's ranking)."""
    from notellm.training.heldout import fuse

    if teacher == "panel":
        return {i: set(ranked[:first]) for i, ranked in enumerate(panel) if ranked}
    scores = fuse([model, words]) if teacher == "fused" else words.astype(np.float64)
    scores = np.array(scores, copy=True)
    np.fill_diagonal(scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :first]
    targets = {i: {int(j) for j in row if np.isfinite(scores[i, j])} for i, row in enumerate(order)}
    return {i: found for i, found in targets.items() if found}


def main() -> None:
    from heldout_cache import cached_collections
    from tables import print_recall_table

    from notellm.engine import vault_map
    from notellm.engine.fusion_weight import UNCHOSEN
    from notellm.engine.lexical import document
    from notellm.engine.term_index import TermIndex
    from notellm.training.heldout import (LexicalRanker, app_ranks, cosine_scores, engine_ranks, link_metrics, link_ranks,
                                          named_notes, note_folders, panel_neighbours)

    folder, collections = cached_collections("--training" in sys.argv[1:], "--minilm" in sys.argv[1:])
    names = [data.name.split("__")[0] for data in collections]
    alone: dict[str, list[float]] = defaultdict(list)
    app: dict[str, list[float]] = defaultdict(list)
    unchosen: dict[str, list[float]] = defaultdict(list)
    for data in collections:
        started = time.time()
        vectors = np.load(folder / f"{data.name}.npz")["vectors"].astype(np.float32)
        every = list(range(len(data.notes)))
        words_all = LexicalRanker().scores(data.notes, every)
        model_all = cosine_scores(vectors, every)
        lexical = words_all[data.sources]
        named = named_notes(data)
        scored = {"as they are": model_all[data.sources]}
        rows = [document(note["title"], note["text"]) for note in data.notes]
        panel = panel_neighbours(data, model_all, [row.split() for row in rows], TermIndex.of(enumerate(rows)), UNCHOSEN,
                                 [set() for _ in data.notes], note_folders(data))
        for teacher, first in TEACHERS:
            if "--teacher" in sys.argv and teacher != sys.argv[sys.argv.index("--teacher") + 1]:
                continue
            targets = pseudo_targets(model_all, words_all, teacher, first, panel)
            examples = [vault_map.Example(i, vectors[i], frozenset(found)) for i, found in sorted(targets.items())]
            scored[f"{teacher}, first {first}"] = cosine_scores(vectors @ vault_map.fit(vectors, examples), data.sources)
        for name, scores in scored.items():
            alone[name].append(link_metrics(link_ranks(scores, data))["R@10"])
            app[name].append(link_metrics(app_ranks(scores, lexical, data))["R@10"])
            unchosen[name].append(link_metrics(engine_ranks(scores, lexical, data, (UNCHOSEN,), named)[UNCHOSEN])["R@10"])
        print(data.name, f"{time.time() - started:.0f} s",
              {name: (round(alone[name][-1], 3), round(app[name][-1], 3), round(unchosen[name][-1], 3)) for name in scored},
              flush=True)
    print_recall_table("vectors, R@10 alone", names, alone)
    print_recall_table("vectors, R@10 in the app's ranking", names, app)
    print_recall_table("vectors, R@10 in the ranking of a vault without enough links to choose a weighting", names, unchosen)


if __name__ == "__main__":
    main()
