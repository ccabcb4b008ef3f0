"""A tag head fitted as a classifier, against the shipped mean-direction head, on the untagged protocol (b).

    .venv/bin/python experiments/tag_classifier.py data/corpus runs/tag-head.npz .cache/heldout/default-<key>

The shipped head (`training/tag_head.py`) gives each tag the mean direction of its notes' embeddings. Every
embedding of the default shares one large common direction, so those means lie close together and a note
lands near whichever tags sit closest to that common part. A linear classifier over the same vectors learns
what tells one tag's notes from the others' instead. Its weight rows go into the same `TagHead` (a note's
score for a tag is one dot product), so the engine reads it unchanged.

Inputs: the corpus folder of `notellm-train prepare-corpus` (training collections only), the embedding cache
that `notellm-train tag-head --cache` wrote for the shipped model, and the folder of vectors `bench/heldout.py`
cached for that model (its `-untagged` sibling holds the vectors the head reads). Prints protocol (b) pooled
over the tagged validation collections, for the head alone and for what the engine suggests, per variant.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from notellm.engine import tag_suggestions
from notellm.engine.hashtags import tag_key
from notellm.engine.tag_head import TagHead
from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
from notellm.training.data import Dataset
from notellm.training.heldout import pooled_untagged, read_collection, tagged_vaults, untagged_protocol
from notellm.training.tag_head import TagHeadConfig, head_from_vectors, vault_tag_groups

REPO = Path(__file__).resolve().parents[1]


def training_set(data: Path, cache: Path) -> tuple[list[dict], dict[int, np.ndarray]]:
    notes = [note for note in Dataset.load(data).notes.values() if note.get("tags")]
    with np.load(cache) as saved:
        by_id = dict(zip(saved["ids"].tolist(), saved["vectors"]))
    return notes, {p: by_id[note["id"]] for p, note in enumerate(notes) if note["id"] in by_id}


def labels(notes: list[dict], vectors: dict[int, np.ndarray], head: TagHead, config: TagHeadConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y, vault of each row): one row per embedded note that carries a tag of the head (by a group large
    enough to teach it), Y multi-hot over the head's tags."""
    column = {tag_key(tag): i for i, tag in enumerate(head.tags)}
    carried: dict[int, set[int]] = defaultdict(set)
    for (_, tag), members in vault_tag_groups(notes).items():
        members = [p for p in members if p in vectors]
        if len(members) >= config.min_notes and tag_key(tag) in column:
            for p in members:
                carried[p].add(column[tag_key(tag)])
    rows = sorted(carried)
    x = np.array([vectors[p] for p in rows], dtype=np.float32)
    y = np.zeros((len(rows), len(head.tags)), dtype=np.float32)
    for r, p in enumerate(rows):
        y[r, sorted(carried[p])] = 1.0
    vaults = np.array([notes[p]["vault"] for p in rows])
    return x, y, vaults


def fit(x: np.ndarray, y: np.ndarray, vaults: np.ndarray, loss: str, decay: float, steps: int = 300, seed: int = 0) -> np.ndarray:
    """Weight rows (tags × dimensions) of a linear classifier with no bias: the embeddings' common direction
    serves as one. Each vault weighs the same in the loss, so a large vault does not decide every tag."""
    torch.manual_seed(seed)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    _, inverse, counts = np.unique(vaults, return_inverse=True, return_counts=True)
    weight = torch.from_numpy((1.0 / counts[inverse]).astype(np.float32))
    weight = weight / weight.sum()
    w = torch.zeros(y.shape[1], x.shape[1], requires_grad=True)
    optimiser = torch.optim.Adam([w], lr=0.05)
    for _ in range(steps):
        logits = 10.0 * xs @ w.T  # the vectors are unit length: a scale lets small weights separate them
        if loss == "softmax":
            target = ys / ys.sum(1, keepdim=True)
            per_note = -(target * torch.log_softmax(logits, 1)).sum(1)
        else:
            per_note = torch.nn.functional.binary_cross_entropy_with_logits(logits, ys, reduction="none").sum(1)
        objective = (weight * per_note).sum() + decay * (w ** 2).sum()
        optimiser.zero_grad()
        objective.backward()
        optimiser.step()
    return w.detach().numpy()


def protocol_b(collections, cached: Path, head: TagHead, model_tags: int) -> dict:
    tag_suggestions.MODEL_TAGS = model_tags  # the experiment's knob; the engine's constant is untouched on disk
    untagged = cached.with_name(cached.name.replace("default-", "default-untagged-"))
    out = defaultdict(list)
    for data in collections:
        vectors = np.load(cached / f"{data.name}.npz")["vectors"]
        embeddings = np.load(untagged / f"{data.name}.npz")["vectors"]
        for name, row in untagged_protocol(data, vectors, embeddings=embeddings, tag_head=head).items():
            out[name].append(row)
    return {name: pooled_untagged(rows) for name, rows in out.items() if name in ("tag head", "engine")}


def main() -> None:
    data, cache, cached = (Path(a) for a in sys.argv[1:4])
    notes, vectors = training_set(data, cache)
    config = TagHeadConfig()
    centroid = head_from_vectors(notes, vectors, config)
    x, y, vaults = labels(notes, vectors, centroid, config)
    print(f"{len(vectors)} embedded notes, {len(x)} with a head tag, {len(centroid.tags)} tags, {len(set(vaults))} vaults", flush=True)
    split = split_collections(read_manifest(DEFAULT_CORPUS), SplitRule())
    corpus_cache = REPO / ".cache" / "corpus"
    collections = tagged_vaults([read_collection(extract(DEFAULT_CORPUS, c, corpus_cache), c.name) for c in split.validation])
    heads = {"centroid (shipped)": centroid}
    for loss in ("softmax", "binary"):
        for decay in (1e-4, 1e-3):
            heads[f"{loss}, decay {decay:g}"] = TagHead(centroid.tags, fit(x, y, vaults, loss, decay))
    for name, head in heads.items():
        for model_tags in (1, 3):
            result = protocol_b(collections, cached, head, model_tags)
            print(f"{name}, model tags {model_tags}: " + "; ".join(
                f"{k} P@3 {v['precision@3']:.3f} coverage {v['coverage']:.2f} top share {v['top_share']:.3f} over {v['top_over_carried']:+.3f}"
                for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
