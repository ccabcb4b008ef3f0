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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from notellm.engine import fusion_weight, vault_map
from notellm.engine.folder_tags import folder_tag, notes_by_folder_name
from notellm.engine.hashtags import TAG_SEPARATORS, normalise_tag, parse_topics, tag_key
from notellm.engine.lexical import RRF_K, document
from notellm.engine.lexical import terms as lexical_terms
from notellm.engine.markdown import FRONTMATTER, INLINE_TAG, parse_note, strip_links
from notellm.engine.mentions import TitleIndex
from notellm.engine.neighbour_tags import FALLBACK_NEIGHBOURS, MIN_VOTES, NEIGHBOURS, folder_votes, neighbour_tags, tag_votes
from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
from notellm.engine.tag_head import TagHead
from notellm.engine.tag_suggestions import NoteTerms, suggest_hashtags
from notellm.engine.term_index import TermIndex
from notellm.engine.vault import folder_of
from notellm.engine.vocabulary_tags import VOTE_NEIGHBOURS, vocabulary_tags

from .data import link_edges, read_vault
from .evaluate import RECALL_AT, LexicalRanker, link_metrics

METRICS = tuple(f"R@{k}" for k in RECALL_AT) + ("MRR",)
HASHTAG_COUNT = 3


@dataclass
class CollectionData:
    """One collection ready to judge: notes with their link markup removed, and the links as queries."""

    name: str
    notes: list[dict]  # {"id": "<collection>/<path>", "path", "title", "text", "tags"}; text has no link markup
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
        records.append({"id": f"{name}/{path}", "path": path, "title": parsed.title, "text": parsed.text,
                        "tags": notes[path].parsed.tags})
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


WEIGHT_FOLDS = 5


Ranks = dict[fusion_weight.Weighting, np.ndarray]


def weighted_ranks(model_scores: np.ndarray, lexical_scores: np.ndarray, data: CollectionData) -> Ranks:
    """Each link's rank with the model fused at each of `engine.fusion_weight.WEIGHTS` (folders left out),
    over every note of the collection."""
    return {fusion_weight.Weighting(weight, 0.0): link_ranks(fuse([model_scores, lexical_scores], fusion_weight.list_weights(weight)), data)
            for weight in fusion_weight.WEIGHTS}


def named_notes(data: CollectionData) -> list[list[int]]:
    """Per note, the notes whose titles its text names (`engine.mentions`), found in its lexical row as the engine
    finds them; the text has no link markup, so these are the notes it names without linking."""
    titles = TitleIndex(enumerate(note["title"] for note in data.notes))
    return [titles.named_in(document(note["title"], note["text"]).split(), exclude=i) for i, note in enumerate(data.notes)]


def engine_ranks(model_scores: np.ndarray, lexical_scores: np.ndarray, data: CollectionData,
                 weightings: tuple[fusion_weight.Weighting, ...] = fusion_weight.WEIGHTINGS,
                 named: list[list[int]] | None = None, hidden: dict[int, set[int]] | None = None) -> Ranks:
    """Each link's rank at each of `weightings` (the model's weight, the nearest-folder list's and the named
    notes'; the engine's by default), ranked as the engine ranks related notes: its own functions over each
    ranking's first `fusion_weight.POOL` notes. A target outside the fused candidates ranks last. `named`
    replaces `named_notes(data)`, to screen another rule; `hidden` leaves notes out of a source's ranking, as the
    panel's "Hide linked" leaves out the notes it links with."""
    folders = note_folders(data)
    every_folder = dict(enumerate(folders))
    if named is None and any(weighting.mention for weighting in weightings):
        named = named_notes(data)
    sources = data.sources
    fused_rows = {weighting: np.full((len(sources), len(data.notes)), -np.inf) for weighting in weightings}
    for row, source in enumerate(sources):
        model, words = model_pool(model_scores[row], source), lexical_pool(lexical_scores[row], source)
        for weighting, scores in fused_rows.items():
            note_named = named[source] if named is not None else None
            for note, score in fusion_weight.fused(model, words, weighting, every_folder, folders[source], note_named):
                scores[row, note] = score
            if hidden and hidden.get(source):
                scores[row, sorted(hidden[source])] = -np.inf
    return {weighting: link_ranks(scores, data) for weighting, scores in fused_rows.items()}


def model_pool(scores: np.ndarray, note: int) -> list[int]:
    """The model's first `fusion_weight.POOL` notes for `note` (its row of scores), itself left out: what the
    engine fuses (`VaultIndex._ranked`)."""
    return [int(i) for i in np.argsort(-scores, kind="stable")[:fusion_weight.POOL + 1] if i != note]


def lexical_pool(scores: np.ndarray, note: int) -> list[int]:
    """The notes sharing words with `note` (its row of lexical scores; -inf: none shared), best first, its first
    `fusion_weight.POOL` less the note itself: what the engine fuses (`VaultIndex._lexical_ranking`)."""
    matched = np.flatnonzero(np.isfinite(scores))
    order = matched[np.argsort(-scores[matched], kind="stable")]
    return [int(i) for i in order[:fusion_weight.POOL + 1] if i != note]


def chosen_weight(ranks: Ranks, choosing: np.ndarray, sources: int) -> fusion_weight.Weighting:
    """The weighting that the links in the mask `choosing`, of `sources` linking notes, choose (`engine.fusion_weight`)."""
    if sources < fusion_weight.MIN_SOURCES:  # the engine's fallback, or equal weight where `ranks` leave the folders out
        return fusion_weight.UNCHOSEN if fusion_weight.UNCHOSEN in ranks else fusion_weight.DEFAULT
    return fusion_weight.choose_weighting({weighting: int(np.sum(r[choosing] <= fusion_weight.RECALL_AT)) for weighting, r in ranks.items()})


def vault_choice(ranks: Ranks, data: CollectionData) -> fusion_weight.Weighting:
    """The weighting all of the collection's links choose from `ranks`, as the engine chooses a vault's."""
    return chosen_weight(ranks, np.ones(len(data.links), bool), len(data.sources))


def panel_weighting(vectors: np.ndarray, data: CollectionData) -> fusion_weight.Weighting:
    """The related panel's weighting that all of the collection's links choose, from a model's vectors of its notes,
    as the engine chooses a vault's (`vault_choice` over `engine_ranks`; `UNCHOSEN` where too few notes link)."""
    if len(data.sources) < fusion_weight.MIN_SOURCES:
        return fusion_weight.UNCHOSEN
    lexical = LexicalRanker().scores(data.notes, data.sources)
    return vault_choice(engine_ranks(cosine_scores(vectors, data.sources), lexical, data), data)


def app_ranks(model_scores: np.ndarray, lexical_scores: np.ndarray, data: CollectionData) -> np.ndarray:
    """Each link's rank as the app's related panel ranks it (`engine_ranks`: the model, the words, the folders and
    the named notes), at the weighting the collection's other links choose (`weight_from_links`)."""
    return weight_from_links(engine_ranks(model_scores, lexical_scores, data), data)[0]


def source_folds(data: CollectionData, folds: int = WEIGHT_FOLDS, seed: int = 0) -> dict[int, int]:
    """{link source: its fold}, the sources dealt into `folds` in a seeded order: the folds by which a collection's
    links choose its weighting (`weight_from_links`)."""
    return dict(zip(data.sources, vault_map.example_folds(len(data.sources), folds, seed)))


def weight_from_links(ranks: Ranks, data: CollectionData, judged: Ranks | None = None,
                      folds: int = WEIGHT_FOLDS, seed: int = 0) -> tuple[np.ndarray, list[fusion_weight.Weighting]]:
    """The collection ranked at the weighting its own links choose (`engine.fusion_weight`), without a link
    choosing its own weighting: the link sources are split into `folds`, and each fold's links are ranked at
    the weighting that its other folds' links choose from `ranks` (`weighted_ranks`, `engine_ranks`).
    Returns each link's rank in `judged` (default: `ranks`; another view of the same links), in `data.links`
    order, and the weighting each fold used."""
    judged = ranks if judged is None else judged
    fold_of = source_folds(data, folds, seed)
    link_fold = np.array([fold_of[source] for source, _ in data.links])
    chosen_ranks, chosen = np.empty(len(data.links), dtype=int), []
    for fold in range(folds):
        weight = chosen_weight(ranks, link_fold != fold, sum(1 for source in fold_of if fold_of[source] != fold))
        chosen.append(weight)
        chosen_ranks[link_fold == fold] = judged[weight][link_fold == fold]
    return chosen_ranks, chosen


@dataclass
class MapChoice:
    """What the engine chooses from a set of linking notes (`VaultIndex._calibrate_fusion`): the weighting, the
    vault's map fitted to their links (`fitted`), and whether related notes rank by it (`kept`)."""

    weighting: fusion_weight.Weighting
    fitted: np.ndarray
    kept: bool


@dataclass
class MapCounts:
    """What a choice of map is made from (`map_choice`): the sampled linking notes as the map's examples, and for
    each of them, per weighting, the links found by the vectors as they are (`plain`) and by the map's held-out
    rankings (`mapped`, empty where the notes are too few to choose by); `links` in all."""

    examples: list[vault_map.Example]
    plain: list[dict[fusion_weight.Weighting, int]]
    mapped: list[dict[fusion_weight.Weighting, int]]
    links: int


def found_in_all(per_note: list[dict[fusion_weight.Weighting, int]]) -> dict[fusion_weight.Weighting, int]:
    """Per weighting, the links found by every note together."""
    found = dict.fromkeys(fusion_weight.WEIGHTINGS, 0)
    for counts in per_note:
        for weighting, count in counts.items():
            found[weighting] += count
    return found


def map_counts(vectors: np.ndarray, lexical_scores: np.ndarray, data: CollectionData, choosing: list[int]) -> MapCounts:
    """The counts the engine chooses its weighting and map by (`VaultIndex._calibrate_fusion`), from the links of
    the sources `choosing` (at most `fusion_weight.MAX_SOURCES` of them, sampled as the engine samples), with
    `lexical_scores` rows following `data.sources`: each linking note ranked as the engine fuses its rankings, by the
    vectors as they are and by the map the other folds fitted (`vault_map.held_out_rankings`)."""
    folders, named = dict(enumerate(note_folders(data))), named_notes(data)
    row_of = {source: row for row, source in enumerate(data.sources)}
    targets = defaultdict(set)
    for source, target in data.links:
        targets[source].add(target)
    choosing = sorted(choosing)
    if len(choosing) > fusion_weight.MAX_SOURCES:
        choosing = sorted(random.Random(0).sample(choosing, fusion_weight.MAX_SOURCES))
    examples = [vault_map.Example(source, vectors[source], frozenset(targets[source])) for source in choosing]
    links = sum(len(targets[source]) for source in choosing)
    if len(choosing) < fusion_weight.MIN_SOURCES:
        return MapCounts(examples, [], [], links)

    def found(source: int, model: list[int]) -> dict[fusion_weight.Weighting, int]:
        words = lexical_pool(lexical_scores[row_of[source]], source)
        return fusion_weight.found_per_weighting(model, words, targets[source], folders, folders[source], named[source])

    raw = cosine_scores(vectors, choosing)
    held = vault_map.held_out_rankings(vectors, examples, fusion_weight.POOL)
    return MapCounts(examples, [found(source, model_pool(raw[row], source)) for row, source in enumerate(choosing)],
                     [found(example.row, held[i]) for i, example in enumerate(examples)], links)


def map_choice(vectors: np.ndarray, lexical_scores: np.ndarray, data: CollectionData, choosing: list[int]) -> MapChoice:
    """The engine's choice of weighting and map from the links of the sources `choosing` (`map_counts`): the map's
    held-out rankings against the vectors as they are, fused as the engine fuses them (`vault_map.keeps`)."""
    counts = map_counts(vectors, lexical_scores, data, choosing)
    fitted = vault_map.fit(vectors, counts.examples)
    if not counts.mapped:
        return MapChoice(fusion_weight.UNCHOSEN, fitted, False)
    found, map_found = found_in_all(counts.plain), found_in_all(counts.mapped)
    kept = vault_map.keeps(found, map_found, counts.links)
    return MapChoice(fusion_weight.choose_weighting(map_found if kept else found), fitted, kept)


def vault_map_ranks(vectors: np.ndarray, lexical_scores: np.ndarray, data: CollectionData,
                    folds: int = WEIGHT_FOLDS, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """Each link's rank with the vault's map (`engine.vault_map`) as the engine chooses and applies it, no link
    judged by a map or a weighting that saw it: the link sources are split into the folds of `weight_from_links`,
    and each fold's links are ranked as the app ranks them (`engine_ranks`) at the weighting that the other folds'
    sources chose (`map_choice`), by the mapped vectors where those kept the map. Returns (the ranks by the vectors
    mapped alone, the map always applied; the app's ranks; whether each fold kept the map), in `data.links` order."""
    fold_of = source_folds(data, folds, seed)
    link_fold = np.array([fold_of[source] for source, _ in data.links])
    named = named_notes(data)
    alone, app, kept = np.empty(len(data.links), dtype=int), np.empty(len(data.links), dtype=int), []
    for fold in range(folds):
        choice = map_choice(vectors, lexical_scores, data, [source for source in data.sources if fold_of[source] != fold])
        mapped = cosine_scores(vectors @ choice.fitted, data.sources)
        alone[link_fold == fold] = link_ranks(mapped, data)[link_fold == fold]
        scores = mapped if choice.kept else cosine_scores(vectors, data.sources)
        app[link_fold == fold] = engine_ranks(scores, lexical_scores, data, (choice.weighting,), named)[choice.weighting][link_fold == fold]
        kept.append(choice.kept)
    return alone, app, kept


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
        generated = model.generate_topics(note["title"], note["text"], HASHTAG_COUNT, content_tokens, folder=folder_of(note["path"]))
        answers[index] = (generated, parse_topics(generated, data.vault_tags, exclude=[], limit=HASHTAG_COUNT))
    return answers


def written_answers(writer, data: CollectionData) -> list[str]:
    """The hashtag writer's answer (`engine.writer.HashtagWriter`, which reads a note without its inline #tags) for
    every note of the collection."""
    return [writer.write_topics(note["title"], note["text"], HASHTAG_COUNT, folder=folder_of(note["path"])) for note in data.notes]


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



# --- the two hashtag protocols of the model issue: a tagged vault with some tags hidden, an untagged vault ---
TAGGED_VAULT_NOTES = 100  # a collection with at least this many tagged notes is a tagged vault for the protocols
HIDDEN_TAG_NOTES = 50
# Protocol (a) hides this many seeded samples of `HIDDEN_TAG_NOTES`, one at a time, and pools them: on one sample the
# engine's lead over the neighbours' votes read 0.016 ± 0.021 on the validation collections, on five 0.040
# (experiments/tag_neighbours.py --seeds 5, docs/experiments.md 2026-12-04).
HIDDEN_TAG_SAMPLES = 5


@dataclass
class TagSetting:
    """A collection as a hashtag suggester sees it: the tags it may see (hidden ones emptied), each note's
    terms (`engine.lexical`), each note's nearest notes, closest first, and the notes it links with and shares
    a folder with."""

    data: CollectionData
    visible: list[list[str]]
    terms: list[list[str]]
    title_terms: list[set[str]]
    index: TermIndex  # note ids are positions in data.notes
    nearest: list[list[int]]  # each note's related notes, closest first
    linked: list[set[int]]  # the notes each note links to or is linked from
    folder_mates: list[list[int]]  # the other notes of each note's folder, where its folder votes (`folder_votes`)
    folder_name_tags: list[str | None]  # each note's folder name as a tag, where it may be one (`engine.folder_tags`)
    embeddings: np.ndarray | None = None  # the model's vectors of the notes as shown here (inline #tags cut)
    tag_head: TagHead | None = None  # the model's, when it has one
    written: list[str] | None = None  # the hashtag writer's answer for each note, its inline #tags cut (`written_answers`)
    rank_words: Callable[[int, list[str]], list[str]] | None = None  # the hashtag writer's order of a note's words

    def note_terms(self, index: int) -> NoteTerms:
        return NoteTerms(index, self.terms[index], self.title_terms[index],
                         [set(self.terms[j]) for j in self.nearest[index][:VOTE_NEIGHBOURS]], self.visible[index],
                         [self.visible[j] for j in sorted(self.linked[index])],
                         [self.visible[j] for j in self.folder_mates[index]], self.folder_name_tags[index])

    def model_tags(self, index: int) -> list[str]:
        """The tags the model's tag head names for the note, as `VaultIndex.suggest_tags` asks it."""
        if self.tag_head is None or self.embeddings is None:
            return []
        return self.tag_head.rank(self.embeddings[index], self.embeddings, HASHTAG_COUNT, self.visible[index])

    def written_tags(self, index: int) -> list[str]:
        """The tags the hashtag writer wrote for the note, read back as `VaultIndex.suggest_tags` reads them."""
        if self.written is None:
            return []
        vault_tags = sorted({tag for tags in self.visible for tag in tags})
        return parse_topics(self.written[index], vault_tags, exclude=self.visible[index], limit=HASHTAG_COUNT)


def hidden_cosine(vectors: np.ndarray, embeddings: np.ndarray, hidden: set[int]) -> np.ndarray:
    """Every note against every note (one row per note), each `hidden` note by its vector in `embeddings` (its
    text with every inline #tag cut, `untagged_view`), the others by theirs in `vectors` (as the vault shows
    them): a hidden note's own tags must not steer which notes are its related notes, whose tags are then
    voted on."""
    shown = np.array(vectors, copy=True)
    rows = sorted(hidden)
    shown[rows] = embeddings[rows]
    return cosine_scores(shown, list(range(len(shown))))


def tag_setting(data: CollectionData, vectors: np.ndarray | None, hidden: set[int], embeddings: np.ndarray | None = None,
                tag_head: TagHead | None = None, weighting: fusion_weight.Weighting = fusion_weight.DEFAULT,
                written: list[str] | None = None, rank_words: Callable[[int, list[str]], list[str]] | None = None,
                mapping: np.ndarray | None = None) -> TagSetting:
    """The collection with the `hidden` notes' tags taken away, inline `#tags` cut from their text too.
    Each note's neighbours are ranked as the related panel ranks them (`panel_neighbours`) at `weighting`, the
    vault's own (`engine.fusion_weight`), from the model's cosine when a model is judged (`vectors`, the link
    evaluation's, one row per note, with `embeddings` for the hidden notes: `hidden_cosine`), else by the
    engine's lexical match over that text alone. `embeddings`, of each note's text with every inline #tag cut
    (`untagged_view`), are also what the model's `tag_head` reads. `written` is the hashtag writer's answer for each note,
    also of its text with every inline #tag cut; `rank_words(note, words)` its order of a note's candidate words
    (`engine.writer.HashtagWriter.rank_tags`), which the engine's suggestions use. `mapping`, the vault's map
    (`engine.vault_map`), maps both before the cosine, as the panel ranks by the mapped vectors; the tag head reads
    them as they are."""
    visible = [[] if i in hidden else note["tags"] for i, note in enumerate(data.notes)]
    texts = [INLINE_TAG.sub("", note["text"]) if i in hidden else note["text"] for i, note in enumerate(data.notes)]
    rows = [document(note["title"], text) for note, text in zip(data.notes, texts)]
    index = TermIndex.of(enumerate(rows))
    linked = [set() for _ in data.notes]
    for source, target in data.links:
        linked[source].add(target)
        linked[target].add(source)
    folders = note_folders(data)
    if vectors is None:
        scores = np.zeros((len(rows), len(rows)))
        for note_id, row in enumerate(rows):
            for other, score in index.related(row.split(), len(rows)):
                scores[note_id, other] = score
        np.fill_diagonal(scores, -np.inf)
        nearest = [list(order) for order in np.argsort(-scores, axis=1, kind="stable")[:, :FALLBACK_NEIGHBOURS]]
    else:
        if embeddings is None:
            raise ValueError("a model's hidden notes need their vectors without their tags (`embeddings`)")
        if mapping is not None:
            vectors, mapped_embeddings = vectors @ mapping, embeddings @ mapping
        else:
            mapped_embeddings = embeddings
        nearest = panel_neighbours(data, hidden_cosine(vectors, mapped_embeddings, hidden), [row.split() for row in rows], index,
                                   weighting, linked, folders)
    members = defaultdict(list)
    for i, folder in enumerate(folders):
        members[folder].append(i)
    mates = [[j for j in members[folder] if j != i] if folder_votes(folder) else [] for i, folder in enumerate(folders)]
    by_name = notes_by_folder_name({folder: len(notes) for folder, notes in members.items()})
    names = [folder_tag(folder, by_name, len(folders)) for folder in folders]
    return TagSetting(data, visible, [row.split() for row in rows], [set(lexical_terms(note["title"])) for note in data.notes],
                      index, nearest, linked, mates, names, embeddings, tag_head, written, rank_words)


def panel_neighbours(data: CollectionData, cosine: np.ndarray, note_terms: list[list[str]], index: TermIndex,
                     weighting: fusion_weight.Weighting, linked: list[set[int]], folders: list[str]) -> list[list[int]]:
    """Each note's `FALLBACK_NEIGHBOURS` related notes as `VaultIndex.suggest_tags` reads them: the panel's ranking
    (`engine.fusion_weight.fused`) of the model's and the lexical match's first `fusion_weight.POOL` notes at
    `weighting`, with the notes nearest its folder and the notes it names but does not link."""
    titles = TitleIndex(enumerate(note["title"] for note in data.notes)) if weighting.mention else None
    every_folder = dict(enumerate(folders))
    nearest = []
    for i, terms in enumerate(note_terms):
        words = [j for j, _ in index.related(terms, fusion_weight.POOL + 1) if j != i]
        named = [j for j in titles.named_in(terms, exclude=i) if j not in linked[i]] if titles else None
        ranked = fusion_weight.fused(model_pool(cosine[i], i), words, weighting, every_folder, folders[i], named)
        nearest.append([j for j, _ in ranked[:FALLBACK_NEIGHBOURS]])
    return nearest


def note_folders(data: CollectionData) -> list[str]:
    """Each note's vault-relative folder ('' at the top), as the engine keeps it (`engine.vault.folder_of`)."""
    return [folder_of(note["path"]) for note in data.notes]


def popular_tags(setting: TagSetting, index: int) -> list[str]:
    """The baseline: the vault's most common visible tags, the same for every note (a tie by the tag's key: a
    set's order changes from one process to the next)."""
    keys = Counter(tag_key(tag) for tags in setting.visible for tag in set(tags))
    spelling = {tag_key(tag): tag for tags in setting.visible for tag in tags}
    return [spelling[key] for key in sorted(keys, key=lambda key: (-keys[key], key))[:HASHTAG_COUNT]]


def neighbour_votes(setting: TagSetting, index: int) -> list[str]:
    """Protocol (a)'s baseline, as the model issue set it: the tags the 10 closest related notes vote for (1 / rank,
    at least `MIN_VOTES`), best voted first, else the single best-voted tag of the 50 closest. The engine's rule
    (`engine.neighbour_tags`) has since weighed the further votes and the note's own words too, and leaves out a weak
    second or third tag."""
    lists = [setting.visible[j] for j in setting.nearest[index]]
    own = {tag_key(tag) for tag in setting.visible[index]}
    spellings = defaultdict(Counter)
    for tags in lists:
        for tag in tags:
            spellings[tag_key(tag)][tag] += 1
    near = tag_votes(lists[:NEIGHBOURS], own)
    best = sorted((key for key, total in near.items() if total >= MIN_VOTES), key=lambda key: (-near[key], key))[:HASHTAG_COUNT]
    if not best:
        further = tag_votes(lists[:FALLBACK_NEIGHBOURS], own)
        best = sorted(further, key=lambda key: (-further[key], key))[:1]
    return [spellings[key].most_common(1)[0][0] for key in best]


def vocabulary_only(setting: TagSetting, index: int) -> list[str]:
    note = setting.note_terms(index)
    return vocabulary_tags(setting.index, index, note.terms, note.title_terms, note.neighbour_terms, note.own_tags, HASHTAG_COUNT)


def engine_suggestion(setting: TagSetting, index: int, with_writer: bool = False) -> list[str]:
    """What `VaultIndex.suggest_tags` answers (`engine.tag_suggestions`); `with_writer`: with the hashtag writer on."""
    tagged_share = sum(bool(tags) for tags in setting.visible) / len(setting.visible)
    rank_words = (lambda words: setting.rank_words(index, words)) if with_writer else None
    return suggest_hashtags([setting.visible[j] for j in setting.nearest[index]], setting.note_terms(index), setting.index,
                            tagged_share, HASHTAG_COUNT, lambda: setting.model_tags(index), rank_words=rank_words)


def engine_with_writer(setting: TagSetting, index: int) -> list[str]:
    return engine_suggestion(setting, index, with_writer=True)


SUGGESTERS = {"popular tags": popular_tags, "neighbour votes": neighbour_votes, "vocabulary": vocabulary_only,
              "tag head": TagSetting.model_tags, "writer": TagSetting.written_tags, "engine": engine_suggestion,
              "engine + writer": engine_with_writer}


def judged_here(name: str, setting: TagSetting) -> bool:
    """Whether a suggester has what it needs in this setting: a tag head, the writer's answers, its ranking."""
    needs = {"tag head": setting.tag_head, "writer": setting.written, "engine + writer": setting.rank_words}
    return needs.get(name, True) is not None


def untagged_view(data: CollectionData) -> CollectionData:
    """The collection's notes with every inline #tag cut from their text: what the tag head's vectors are made of."""
    notes = [{**note, "text": INLINE_TAG.sub("", note["text"])} for note in data.notes]
    return CollectionData(data.name, notes, data.links, data.vault_tags)


def untagged_copy(source: Path, target: Path) -> Path:
    """A copy of a vault's notes with every tag taken out: frontmatter dropped, inline #tags cut."""
    for path in Path(source).rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        match = FRONTMATTER.match(text)
        destination = Path(target) / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(INLINE_TAG.sub("", text[match.end():] if match else text), encoding="utf-8")
    return Path(target)


def tagged_vaults(collections: list[CollectionData]) -> list[CollectionData]:
    return [d for d in collections if sum(bool(note["tags"]) for note in d.notes) >= TAGGED_VAULT_NOTES]


def hidden_tags_protocol(data: CollectionData, vectors: np.ndarray | None, suggesters: dict = SUGGESTERS,
                         embeddings: np.ndarray | None = None, tag_head: TagHead | None = None,
                         weighting: fusion_weight.Weighting = fusion_weight.DEFAULT, written: list[str] | None = None,
                         rank_words: Callable[[int, list[str]], list[str]] | None = None,
                         mapping: np.ndarray | None = None) -> dict[str, dict]:
    """(a) A tagged vault with `HIDDEN_TAG_NOTES` notes' tags hidden: each suggester's three tags for those
    notes against their own (`hashtag_metrics`), over `HIDDEN_TAG_SAMPLES` seeded samples, each hidden alone,
    pooled by notes (`pooled_hashtags`; the examples are the first sample's)."""
    per_sample: dict[str, list[dict]] = defaultdict(list)
    for seed in range(HIDDEN_TAG_SAMPLES):
        sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
        setting = tag_setting(data, vectors, set(sample), embeddings, tag_head, weighting, written, rank_words, mapping)
        for name, suggest in suggesters.items():
            if judged_here(name, setting):
                per_sample[name].append(hashtag_metrics(data, {i: (None, suggest(setting, i)) for i in sample}))
    return {name: {**pooled_hashtags(rows), "samples": len(rows), "examples": rows[0]["examples"]} for name, rows in per_sample.items()}


def untagged_protocol(data: CollectionData, vectors: np.ndarray | None, suggesters: dict = SUGGESTERS,
                      embeddings: np.ndarray | None = None, tag_head: TagHead | None = None,
                      weighting: fusion_weight.Weighting = fusion_weight.DEFAULT, written: list[str] | None = None,
                      rank_words: Callable[[int, list[str]], list[str]] | None = None,
                      mapping: np.ndarray | None = None) -> dict[str, dict]:
    """(b) The same collection with every tag hidden. Per suggester: coverage (share of notes with a tag),
    precision@3 over the notes that really carry tags, the most proposed tag's share of notes against the
    share that really carry it, and how many answers repeat a tag or hold a malformed one."""
    setting = tag_setting(data, vectors, set(range(len(data.notes))), embeddings, tag_head, weighting, written, rank_words, mapping)
    gold = [{tag_key(tag) for tag in note["tags"]} for note in data.notes]
    results = {}
    for name, suggest in suggesters.items():
        if name in ("popular tags", "neighbour votes"):  # nothing to suggest from without tags
            continue
        if not judged_here(name, setting):
            continue
        answers = [suggest(setting, i)[:HASHTAG_COUNT] for i in range(len(data.notes))]
        proposed = Counter(tag_key(tag) for tags in answers for tag in set(tags))
        top = min(proposed, key=lambda key: (-proposed[key], key), default="")  # a tie by the key, as a set's order varies
        top_count = proposed[top] if top else 0
        judged = [(tags, own) for tags, own in zip(answers, gold) if own and tags]
        results[name] = {
            "notes": len(answers),
            "tagged": sum(bool(own) for own in gold),
            "coverage": sum(bool(tags) for tags in answers) / len(answers),
            "precision@3": float(np.mean([sum(tag_key(t) in own for t in tags) / len(tags) for tags, own in judged])) if judged else 0.0,
            "top_tag": top,
            "top_share": top_count / len(answers),
            "top_carried": sum(top in own for own in gold) / len(answers),
            "repeats": sum(len({tag_key(t) for t in tags}) != len(tags) for tags in answers),
            "malformed": sum(normalise_tag(t) != t for tags in answers for t in tags),
            "examples": [{"id": data.notes[i]["id"], "tags": data.notes[i]["tags"], "suggested": answers[i]}
                         for i in range(0, len(answers), max(1, len(answers) // 5))][:5],
        }
    return results


def pooled_untagged(rows: list[dict]) -> dict:
    """Protocol (b) over several collections: coverage and precision weighted by notes, the worst top-tag excess."""
    n = sum(row["notes"] for row in rows)
    tagged = sum(row["tagged"] for row in rows)
    return {"notes": n, "coverage": sum(row["coverage"] * row["notes"] for row in rows) / n,
            "precision@3": sum(row["precision@3"] * row["tagged"] for row in rows) / max(tagged, 1),
            "top_share": max(row["top_share"] for row in rows),
            "top_over_carried": max(row["top_share"] - max(row["top_carried"], 0.10) for row in rows),
            "repeats": sum(row["repeats"] for row in rows), "malformed": sum(row["malformed"] for row in rows)}
