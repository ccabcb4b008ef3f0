"""A vault's own links fitted into the model's vectors: one linear map per vault, kept only where its links gain.

The model relates the notes of a vault it never saw as it learnt to relate notes in general; a vault's links say
what *its* notes mean by related. A d x d map W (the identity at first) is fitted to them: every vector is mapped
by W before the cosine, and W is pulled toward the identity by an L2 term. Each linking note, embedded with its
links cut as the fusion weights' choice embeds it (`VaultIndex._calibrate_fusion`), should rank the notes it links
to first among the vault's notes: a softmax cross-entropy with every other note a negative (the note itself and its
other link targets aside), fitted by Adam with the gradient written out. NumPy alone: no torch in the engine.

Whether the vault keeps the map is its links' call (`held_out_rankings`): the linking notes are dealt into
`FOLDS`, and each fold's notes are ranked by a map fitted on the other folds' links. The engine fuses those
rankings as it fuses the model's and keeps the map where they find more of the links than the vectors as they are
(`VaultIndex._calibrate_fusion`); related notes then rank by the mapped vectors (`MappedVectors`). A question
(`VaultIndex.search`) is no note and keeps the vectors as they are.

Measured over the validation collections' vectors (`experiments/vault_adapter.py`, docs/experiments.md,
2026-12-07): the default alone 0.353 -> 0.435 macro R@10, the app's ranking 0.532 -> 0.556; on 22 collections the
model trained on, level, losing on small vaults: hence the held-out choice. `bench/heldout.py` measures the rule as
the engine applies it (`training.heldout.vault_map_ranks`).
"""

from __future__ import annotations

import base64
import json
import math
import random
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

STEPS = 300  # Adam steps per fit (experiments/vault_adapter.py: settings chosen over 300 steps)
LEARNING_RATE = 0.03
PULL = 0.03  # the L2 pull of W toward the identity
SCALE = 20.0  # the softmax's inverse temperature over cosines
BATCH = 1024  # links per step: every link of a vault with fewer
CANDIDATES = 2048  # notes a step ranks against: every note of a vault this small, else the step's linked notes and a sample
FOLDS = 5
# Of the links sampled: what the held-out rankings must find beyond the vectors as they are (`keeps`). Stricter shares
# and a paired test over the linking notes scored lower on training and validation collections alike, keeping the map
# always 0.003 higher, inside the noise (docs/experiments.md, 2026-12-07).
MIN_GAIN = 0.01
META_KEY = "vault_map"  # where the index keeps the map (`encode`)


@dataclass(frozen=True)
class Example:
    """One linking note: its row among the vault's vectors, its vector with its links cut, and the rows it links to."""

    row: int
    vector: np.ndarray
    targets: frozenset[int]


def fit(notes: np.ndarray, examples: Sequence[Example], steps: int = STEPS, learning_rate: float = LEARNING_RATE,
        pull: float = PULL, seed: int = 0) -> np.ndarray:
    """W (d x d, float32) over `notes` (n x d, one row per note of the vault) fitted to the examples' links;
    the identity when there are none. A fit is not cut short: a second for a few hundred notes, about 6 s at
    10,000 (2 cores), so that a run that steps aside between fits always gets one done."""
    dimensions = notes.shape[1]
    pairs = [(anchor, target) for anchor, example in enumerate(examples) for target in sorted(example.targets)]
    if not pairs:
        return np.eye(dimensions, dtype=np.float32)
    x = np.asarray(notes, dtype=np.float32)
    anchors = np.stack([example.vector for example in examples]).astype(np.float32)
    pair_anchor = np.array([anchor for anchor, _ in pairs])  # grouped by anchor, as `np.add.reduceat` needs
    pair_target = np.array([target for _, target in pairs])
    # Each pair's masked notes, flat: its anchor's own note and its anchor's other targets.
    masked = [(pair, row) for pair, (anchor, target) in enumerate(pairs)
              for row in (examples[anchor].row, *examples[anchor].targets) if row != target]
    mask_pair = np.array([pair for pair, _ in masked], dtype=np.int64)
    mask_row = np.array([row for _, row in masked], dtype=np.int64)
    identity = np.eye(dimensions, dtype=np.float32)
    weights, first, second = identity.copy(), np.zeros_like(identity), np.zeros_like(identity)
    rng = np.random.default_rng(seed)
    position = np.full(len(x), -1)  # a note's column among the step's candidates
    line = np.full(len(pairs), -1)  # a pair's line among the step's pairs
    for step in range(1, steps + 1):
        rows = np.arange(len(pairs)) if len(pairs) <= BATCH else np.sort(rng.choice(len(pairs), BATCH, replace=False))
        if len(x) <= CANDIDATES:
            candidates = np.arange(len(x))
        else:
            candidates = np.union1d(pair_target[rows], rng.choice(len(x), CANDIDATES, replace=False))
        position[candidates], line[rows] = np.arange(len(candidates)), np.arange(len(rows))
        used, starts = np.unique(pair_anchor[rows], return_index=True)  # the step's anchors; where each one's pairs start
        anchor_unit, anchor_length = _unit(anchors[used] @ weights)
        note_unit, note_length = _unit(x[candidates] @ weights)
        logits = SCALE * (anchor_unit @ note_unit.T)[np.searchsorted(used, pair_anchor[rows])]
        lines, columns = line[mask_pair], position[mask_row]
        keep = (lines >= 0) & (columns >= 0)
        logits[lines[keep], columns[keep]] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        grad_logits = np.exp(logits)
        grad_logits /= grad_logits.sum(axis=1, keepdims=True)
        grad_logits[np.arange(len(rows)), position[pair_target[rows]]] -= 1.0
        grad_logits *= SCALE / len(rows)  # d loss / d (anchor unit . note unit), per pair
        grad_similarity = np.add.reduceat(grad_logits, starts, axis=0)  # per anchor
        grad_anchor = _through_unit(grad_similarity @ note_unit, anchor_unit, anchor_length)
        grad_note = _through_unit(grad_similarity.T @ anchor_unit, note_unit, note_length)
        gradient = anchors[used].T @ grad_anchor + x[candidates].T @ grad_note + 2.0 * pull * (weights - identity)
        position[candidates], line[rows] = -1, -1
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient ** 2
        weights -= learning_rate * (first / (1 - 0.9 ** step)) / (np.sqrt(second / (1 - 0.999 ** step)) + 1e-8)
    return weights


def _unit(mapped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    length = np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
    return mapped / length, length


def _through_unit(grad_unit: np.ndarray, unit: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The gradient at the mapped vectors, from the one at their unit-length versions."""
    return (grad_unit - unit * np.sum(unit * grad_unit, axis=1, keepdims=True)) / length


def keeps(found: Mapping[Any, int], map_found: Mapping[Any, int], links: int) -> bool:
    """Whether a vault ranks by its map: fused at their best weighting, its held-out rankings (`held_out_rankings`)
    found at least `MIN_GAIN` of the `links` more (one link at least) than the vectors as they are at theirs."""
    if not map_found:
        return False
    return max(map_found.values()) >= max(found.values(), default=0) + max(1, math.ceil(MIN_GAIN * links))


def example_folds(count: int, folds: int = FOLDS, seed: int = 0) -> list[int]:
    """Each of `count` examples' fold, dealt in a seeded order."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    fold = [0] * count
    for dealt, example in enumerate(order):
        fold[example] = dealt % folds
    return fold


def held_out_rankings(notes: np.ndarray, examples: Sequence[Example], count: int, folds: int = FOLDS,
                      done: dict[int, list[int]] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> dict[int, list[int]] | None:
    """{example: the first `count` rows by mapped cosine (its own row left out)}, each by the map that the other
    folds' examples fitted: no example is ranked by a map that saw its links. `done` holds what a run that stepped
    aside had ranked, and is filled in: `should_stop` is asked between two folds, once one is ranked, and None is
    returned when it said stop."""
    rankings = {} if done is None else done
    fold_of = example_folds(len(examples), folds)
    ranked_one = False
    for fold in range(folds):
        held = [i for i, f in enumerate(fold_of) if f == fold and i not in rankings]
        if not held:
            continue
        if ranked_one and should_stop is not None and should_stop():
            return None
        matrix = fit(notes, [example for example, f in zip(examples, fold_of) if f != fold])
        ranked_one = True
        mapped = MappedVectors(np.arange(len(notes)), notes, matrix)
        for i in held:
            rankings[i] = [row for row, _ in mapped.search(examples[i].vector, count + 1) if row != examples[i].row][:count]
    return rankings


class MappedVectors:
    """Every vector of an index mapped by the vault's map, at unit length, searched exactly: a matrix product, a
    few milliseconds at 10,000 notes (bench/scale.py)."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, matrix: np.ndarray):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.matrix = matrix.astype(np.float32)
        self.unit = _unit(np.asarray(vectors, dtype=np.float32) @ self.matrix)[0].astype(np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        """(id, cosine of the mapped vectors) pairs, most similar first; a vector that is not finite matches nothing."""
        count = min(count, len(self.ids))
        query = np.asarray(vector, dtype=np.float32) @ self.matrix
        if count <= 0 or not np.all(np.isfinite(query)):
            return []
        scores = self.unit @ (query / max(float(np.linalg.norm(query)), 1e-12))
        scores = np.where(np.isfinite(scores), scores, -np.inf)
        if count < len(scores):  # the count-th best score as a bar: half the time of an argpartition at 100,000
            best = np.flatnonzero(scores >= np.partition(scores, len(scores) - count)[len(scores) - count])
        else:
            best = np.arange(len(scores))
        best = best[np.lexsort((best, -scores[best]))][:count]  # ties at the bar: the lower row first
        return [(int(self.ids[i]), float(scores[i])) for i in best if np.isfinite(scores[i])]


def encode(matrix: np.ndarray) -> str:
    """The map as the index keeps it: JSON with its width and its float32 values in base64."""
    return json.dumps({"dimensions": int(matrix.shape[0]),
                       "matrix": base64.b64encode(np.ascontiguousarray(matrix, dtype="<f4").tobytes()).decode("ascii")})


def decode(text: str) -> np.ndarray:
    """Raises ValueError on anything `encode` did not write, or a map that is not finite."""
    try:
        values = json.loads(text)
        dimensions = int(values["dimensions"])
        matrix = np.frombuffer(base64.b64decode(values["matrix"], validate=True), dtype="<f4")
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"not a vault map: {error}") from error
    if dimensions <= 0 or matrix.size != dimensions * dimensions or not np.all(np.isfinite(matrix)):
        raise ValueError("not a vault map: wrong size or values")
    return matrix.reshape(dimensions, dimensions).astype(np.float32)
