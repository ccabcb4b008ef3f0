"""Judging a model on note collections it never saw: link prediction with every link removed, and hashtags.

For one collection: every note is read by the engine's reader and every resolved link A -> B (A != B)
becomes a query. Then **all** link markup is cut out of every note (`engine.markdown.strip_links`), so a
target's title cannot reach the query through the link that names it. Each method scores every note
against every source note; the rank of B among all notes but A gives Recall@k and MRR. A collection's
numbers are means over its links; the headline is the macro-mean over collections, so a large
collection does not outweigh a small one.

Hashtags: on a seeded sample of each collection's tagged notes, three suggestions are compared with the
note's own tags: those the model writes (`NoteModel.generate_topics`, CSFT), read back the way the app
reads them (`engine.hashtags.parse_topics`, the vault's own spelling wins), and those its nearest notes
carry (`engine.neighbour_tags`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from notellm.engine.hashtags import TAG_SEPARATORS, normalise_tag, parse_topics, tag_key
from notellm.engine.lexical import RRF_K
from notellm.engine.markdown import parse_note, strip_links
from notellm.engine.neighbour_tags import FALLBACK_NEIGHBOURS, neighbour_tags
from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS

from .data import link_edges, read_vault

RECALL_AT = (1, 5, 10, 20, 100)
METRICS = tuple(f"R@{k}" for k in RECALL_AT) + ("MRR",)
HASHTAG_COUNT = 3


@dataclass
class CollectionData:
    """One collection ready to judge: notes with their link markup removed, and the links as queries."""

    name: str
    notes: list[dict]  # {"id", "title", "text", "tags"}; text has no link markup
    links: list[tuple[int, int]]  # directed (source, target) indices into notes
    vault_tags: list[str] = field(default_factory=list)

    @property
    def sources(self) -> list[int]:
        return sorted({source for source, _ in self.links})


def read_collection(root: Path, name: str | None = None) -> CollectionData:
    """Read a folder of notes as the engine does, collect its links, then strip every link from every note."""
    root = Path(root)
    name = name or root.name
    notes, sources, resolver = read_vault(root)
    edges = link_edges(notes, resolver)
    paths = sorted(notes)
    index = {path: i for i, path in enumerate(paths)}
    records = []
    for path in paths:
        parsed = parse_note(strip_links(sources[path]), PurePosixPath(path).stem)
        records.append({"id": f"{name}/{path}", "title": parsed.title, "text": parsed.text, "tags": notes[path].parsed.tags})
    vault_tags = sorted({tag for note in notes.values() for tag in note.parsed.tags}, key=str.casefold)
    return CollectionData(name, records, [(index[a], index[b]) for a, b in edges], vault_tags)


def link_ranks(scores: np.ndarray, data: CollectionData) -> np.ndarray:
    """Rank (1 = best) of each link's target among all notes but its source; `scores` rows follow `data.sources`."""
    row_of = {source: row for row, source in enumerate(data.sources)}
    ranks = []
    for source, target in data.links:
        row = scores[row_of[source]].astype(np.float64)
        row[source] = -np.inf  # a note is not its own neighbour
        value = row[target]
        ranks.append(1 + int(np.sum(row > value)) if np.isfinite(value) else len(data.notes) - 1)
    return np.asarray(ranks)


def link_metrics(ranks: np.ndarray) -> dict[str, float]:
    result = {f"R@{k}": float(np.mean(ranks <= k)) for k in RECALL_AT}
    result["MRR"] = float(np.mean(1.0 / ranks))
    return result


def macro_mean(rows: list[dict]) -> dict[str, float]:
    """The unweighted mean of each metric over collections."""
    return {metric: float(np.mean([row[metric] for row in rows])) for metric in METRICS}


def cosine_scores(vectors: np.ndarray, queries: list[int]) -> np.ndarray:
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors[queries] @ vectors.T


def row_ranks(scores: np.ndarray) -> np.ndarray:
    """Each entry's rank within its row, 1 = highest score (ties broken by position)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, scores.shape[1] + 1)[None, :]
    return ranks


def fuse(score_matrices: list[np.ndarray], weights: list[float] | None = None, k: int = RRF_K) -> np.ndarray:
    """Reciprocal-rank fusion over full score matrices, as `engine.lexical.fuse_ranked` does over ranked lists."""
    weights = weights or [1.0] * len(score_matrices)
    return sum(w / (k + row_ranks(s)) for w, s in zip(weights, score_matrices))


def tagged_sample(data: CollectionData, limit: int, seed: int = 0) -> list[int]:
    """A seeded sample of up to `limit` tagged notes (indices), the same for every method."""
    tagged = [i for i, note in enumerate(data.notes) if note["tags"]]
    return random.Random(f"{seed}:{data.name}").sample(tagged, min(limit, len(tagged)))


def hashtag_metrics(data: CollectionData, answers: dict[int, tuple[str | None, list[str]]]) -> dict:
    """Suggested tags against the notes' own tags. `answers` maps a note to (generated text or None, suggested tags).

    precision@3: share of suggested tags that are the note's own, over the answers that suggested any;
    recall@3: hits over min(3, the note's tag count); empty: answers with no usable tag; repeated: generated
    answers that named one topic twice; malformed: generated answers with a piece that is no valid tag."""
    precision, recall, empty, repeated, malformed, examples = [], [], 0, 0, 0, []
    for index, (generated, suggested) in answers.items():
        note = data.notes[index]
        if generated is not None:
            pieces = [piece.strip() for piece in TAG_SEPARATORS.split(generated) if piece.strip().strip("#.")]
            keys = [tag_key(piece) for piece in pieces if normalise_tag(piece)]
            repeated += len(keys) != len(set(keys))
            malformed += any(normalise_tag(piece) is None for piece in pieces)
        gold = {tag_key(tag) for tag in note["tags"]}
        hits = sum(tag_key(tag) in gold for tag in suggested[:HASHTAG_COUNT])
        if suggested:
            precision.append(hits / len(suggested[:HASHTAG_COUNT]))
        else:
            empty += 1
        recall.append(hits / min(HASHTAG_COUNT, len(gold)))
        if len(examples) < 3:
            examples.append({"id": note["id"], "tags": note["tags"], "generated": generated, "suggested": suggested})
    n = len(answers)
    return {
        "notes": n,
        "precision@3": float(np.mean(precision)) if precision else 0.0,
        "recall@3": float(np.mean(recall)) if recall else 0.0,
        "empty": empty / n if n else 0.0,
        "repeated": repeated / n if n else 0.0,
        "malformed": malformed / n if n else 0.0,
        "examples": examples,
    }


def generated_answers(model, data: CollectionData, sample: list[int],
                      content_tokens: int = DEFAULT_CONTENT_TOKENS) -> dict[int, tuple[str, list[str]]]:
    """CSFT: the model writes three topics (`NoteModel.generate_topics`), read back as the app reads them."""
    answers = {}
    for index in sample:
        note = data.notes[index]
        generated = model.generate_topics(note["title"], note["text"], HASHTAG_COUNT, content_tokens)
        answers[index] = (generated, parse_topics(generated, data.vault_tags, exclude=[], limit=HASHTAG_COUNT))
    return answers


def neighbour_answers(scores: np.ndarray, data: CollectionData, sample: list[int]) -> dict[int, tuple[None, list[str]]]:
    """The tags a note's nearest notes carry (`engine.neighbour_tags`); `scores` has one row per note."""
    answers = {}
    for index in sample:
        row = scores[index].astype(np.float64)
        row[index] = -np.inf
        nearest = np.argsort(-row, kind="stable")[:FALLBACK_NEIGHBOURS]
        # The note's own tags are the answer here, so they are not excluded as the app excludes them.
        answers[index] = (None, neighbour_tags([data.notes[i]["tags"] for i in nearest], (), HASHTAG_COUNT))
    return answers


def pooled_hashtags(rows: list[dict]) -> dict:
    """Hashtag metrics over all sampled notes of several collections (weighted by notes, not collections)."""
    n = sum(row["notes"] for row in rows)
    if not n:
        return {"notes": 0}
    answered = sum(row["notes"] * (1 - row["empty"]) for row in rows)
    result = {"notes": n}
    result["precision@3"] = sum(row["precision@3"] * row["notes"] * (1 - row["empty"]) for row in rows) / max(answered, 1e-9)
    for key in ("recall@3", "empty", "repeated", "malformed"):
        result[key] = sum(row[key] * row["notes"] for row in rows) / n
    return result

