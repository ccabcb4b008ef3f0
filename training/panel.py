"""The related panel judged on a prepared vault's held-out links: what `personalize` compares two models by.

`prepare --holdout` cuts a share of a vault's links out of its notes (`training.data`). Indexed, such a vault chooses
its weighting and fits its map from the links it still has (`VaultIndex._calibrate_fusion`), and the app's panel
ranks the model's nearest notes fused with the shared words, the nearest folders and the named notes. A model's
panel score is how well that ranking finds each held-out link A -> B, with the notes A still links with left out,
as the panel's "Hide linked" shows them: the links neither the map nor the weighting saw. The ranking is the
engine's own functions, as `training.heldout` runs them over a collection (`map_choice`, `engine_ranks`).

    ranks, choice = panel_ranks(vectors, notes, training_links, held_out_links)
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from notellm.engine import fusion_weight

from .heldout import CollectionData, MapChoice, cosine_scores, engine_ranks, map_choice
from .evaluate import LexicalRanker


def panel_ranks(vectors: np.ndarray, notes: list[dict], training_links: list[tuple[int, int]],
                held_out_links: list[tuple[int, int]]) -> tuple[np.ndarray, MapChoice | None]:
    """Each held-out link's rank (1 = best) in the panel of its source, from `vectors` of `notes` (dicts with `path`,
    `title` and `text`), the weighting and map chosen from `training_links` as the engine chooses them; links are
    (source, target) indices into `notes`. Returns the ranks in `held_out_links` order and the choice (None where no
    note links: the engine's fixed weights, no map)."""
    held = CollectionData("held-out", notes, list(held_out_links))
    training = CollectionData("training", notes, list(training_links))
    # one lexical index for both sets of sources: a row depends only on its own note
    queried = sorted(set(training.sources) | set(held.sources))
    lexical = LexicalRanker().scores(notes, queried)
    row_of = {note: row for row, note in enumerate(queried)}

    def lexical_rows(sources: list[int]) -> np.ndarray:
        return lexical[[row_of[source] for source in sources]]

    choice = None
    weighting, scored = fusion_weight.UNCHOSEN, vectors
    if training.sources:
        choice = map_choice(vectors, lexical_rows(training.sources), training, training.sources)
        weighting = choice.weighting
        scored = vectors @ choice.fitted if choice.kept else vectors
    linked = defaultdict(set)
    for source, target in training_links:
        linked[source].add(target)
        linked[target].add(source)
    ranks = engine_ranks(cosine_scores(scored, held.sources), lexical_rows(held.sources), held, (weighting,),
                         hidden=linked)[weighting]
    return ranks, choice
