"""How much a vault's related notes lean on the model, the words they share, their folders and the notes they name,
chosen from its own links.

Related notes fuse the model's ranking with the lexical match by reciprocal rank (`lexical.fuse_ranked`),
the model's list counting `Weighting.model` times. Equal weight is best on most collections, but not everywhere:
on the Russian validation collection the lexical match alone finds 0.591 of the links and the fused
ranking 0.513. A vault filed by subject adds a third list: the fused candidates nearest the note's folder
first (`engine.folder_ranking`), counting `Weighting.folder` times, and a vault whose notes name each other by
title a fourth: the notes whose titles the note's text holds (`engine.mentions`), counting `Weighting.mention`
times. A vault's existing links say which way
it leans. For up to `MAX_SOURCES` notes that link to other notes, the note with its link words cut
(`markdown.strip_links`: a link names its target) is embedded again and ranked every way, and each
weighting of `WEIGHTINGS` is scored by how many of its linked notes it puts among the first `RECALL_AT`.
The best is the vault's (`choose_weighting` breaks ties); a vault with fewer than `MIN_SOURCES` linking
notes, or one not weighed yet, gets `UNCHOSEN`: the model and the words at equal weight, the folders at 0.5
and the named notes at 1. The same weighing fits the vault's map of the model's vectors (`engine.vault_map`),
kept where the linking notes' held-out rankings gain by it; `Calibration.mapped` says whether related notes use it.

Cutting the link words from both sides matters. Scored by five-fold cross-validation over the validation
collections' link sources, each fold ranked with the weight its other four folds chose (the default
model; macro R@10 0.424 at weight 1 everywhere): 0.431 like this, 0.429 with the links kept on both sides,
0.425 with them cut from the lexical query only, which leans the choice toward the model
(`experiments/calibration_views.py`, docs/experiments.md). The folder weight, chosen the same way, lifts
it to 0.480 (docs/benchmarks.md, 2026-12-04): ITMO-Study-Notes 0.211 → 0.579; it stays 0 on the vaults
filed in one folder or whose links cross their folders. The notes a note names lift it to 0.514 (docs/benchmarks.md,
2026-12-04: sleeptoken 0.381 → 0.535, davidgasquez 0.249 → 0.340). The folder and mention weights offered were
screened on training collections (`experiments/folder_weights.py`, `experiments/mention_weights.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping, NamedTuple

from .folder_ranking import nearest_first
from .lexical import RRF_K, fuse_ranked

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # the model's; 0: the lexical match alone
FOLDER_WEIGHTS = (0.0, 0.5, 1.0, 2.0)  # the nearest-folder list's; 0: folders take no part
MENTION_WEIGHTS = (0.0, 1.0)  # the named notes' list's; 0: it takes no part (0.5 and 2 offered too gained nothing on training collections)
DEFAULT_WEIGHT = 1.0
MIN_SOURCES = 20  # fewer linking notes than this say too little to choose by: the vault gets `UNCHOSEN`
MAX_SOURCES = 200  # a sample this large is stable, and cheap: one embedding, one vector search and one lexical query each
BATCH = 8  # linking notes embedded at a time, between two chances to step aside
RECALL_AT = 10  # the related notes a panel shows
POOL = 100  # candidates taken from each ranking before fusing them
MODEL_FLOOR = 1e-3  # the model's weight when the vault's is 0 (`list_weights`)
META_KEY = "fusion_weight"  # where the index keeps its `Calibration` (JSON)


class Weighting(NamedTuple):
    """The model's weight against the shared words, the nearest-folder list's and the named notes' list's."""

    model: float = DEFAULT_WEIGHT
    folder: float = 0.0
    mention: float = 0.0

    def key(self) -> str:
        """As the index keeps it in JSON: "model/folder/mention"."""
        return f"{self.model:g}/{self.folder:g}/{self.mention:g}"

    @classmethod
    def from_key(cls, key: str) -> "Weighting":
        """Raises ValueError on any other form, such as "model/folder" kept before named notes took part."""
        model, folder, mention = key.split("/")
        return cls(float(model), float(folder), float(mention))


DEFAULT = Weighting()  # the pair at equal weight: what a tie keeps, and what questions (`search`) are ranked by
# A vault whose links are too few to choose among WEIGHTINGS, or that is not weighed yet. The same fixed weighting
# for every collection (experiments/unchosen_weighting.py, macro R@10 over every link): on the 21 training
# collections of at most 600 notes 0.469 against 0.443 for DEFAULT, 17 of them up and 2 down (at most 1.2
# points); on the validation collections 0.476 against 0.430, none down. The folders or the named notes alone
# gain less (0.452, 0.460 on the training collections); the folders at 1 too gain more (0.476) but cost one
# collection 7.1 points, which a weighting no links chose should not.
UNCHOSEN = Weighting(DEFAULT_WEIGHT, 0.5, 1.0)
WEIGHTINGS = tuple(Weighting(model, folder, mention) for model in WEIGHTS for folder in FOLDER_WEIGHTS for mention in MENTION_WEIGHTS)


@dataclass
class Calibration:
    """The vault's weighting, and what it was chosen from: `sources` linking notes with `links` links between
    them and the vault; `found`, per weighting, how many of those links it ranked among the first `RECALL_AT`.
    `map_found` is the same with the vectors mapped by the vault's map, held out (`engine.vault_map`), and
    `mapped` whether related notes rank by them (the weighting is then the one `map_found` chose). `embedder`
    and `link_count` (all of the vault's links) say whether it still holds."""

    weighting: Weighting
    sources: int
    links: int
    found: dict[Weighting, int] = field(default_factory=dict)
    embedder: str = ""
    link_count: int = 0
    mapped: bool = False
    map_found: dict[Weighting, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        values = asdict(self)
        values["weighting"] = self.weighting.key()
        values["found"] = {weighting.key(): count for weighting, count in self.found.items()}
        values["map_found"] = {weighting.key(): count for weighting, count in self.map_found.items()}
        return values

    @classmethod
    def from_dict(cls, values: Mapping) -> "Calibration":
        """Raises KeyError, ValueError or TypeError on anything else, such as a choice kept before folders
        took part (a "weight" and no "weighting"), before named notes did ("model/folder" keys) or before the
        vault's map did (no "mapped"): the index then makes it again."""
        found = {Weighting.from_key(key): int(count) for key, count in values.get("found", {}).items()}
        map_found = {Weighting.from_key(key): int(count) for key, count in values.get("map_found", {}).items()}
        return cls(Weighting.from_key(values["weighting"]), int(values["sources"]), int(values["links"]), found,
                   str(values.get("embedder", "")), int(values.get("link_count", 0)), bool(values["mapped"]), map_found)

    def describe(self) -> str:
        """One line for `status`: what related notes lean on, and why."""
        if self.sources < MIN_SOURCES:
            return (f"{leaning(self.weighting)} ({self.sources} notes link to others; "
                    f"{MIN_SOURCES} are needed to choose from the vault's own links)")
        chosen = f"chosen from {self.links} links of {self.sources} notes"
        if self.mapped:
            return (f"{leaning(self.weighting)}, the model's vectors fitted to the vault's links, {chosen} "
                    f"(held out: {max(self.map_found.values(), default=0)} found with the fit, {max(self.found.values(), default=0)} without)")
        return f"{leaning(self.weighting)}, {chosen}"

    def current(self, embedder: str | None, link_count: int) -> bool:
        """Whether it still holds: the same model, and the vault's links changed by less than a tenth."""
        return embedder == self.embedder and abs(link_count - self.link_count) <= max(1, self.link_count // 10)


def leaning(weighting: Weighting) -> str:
    """What related notes lean on at this weighting, in words."""
    model, folder, mention = weighting
    words = ("shared words alone" if model == 0 else "model and shared words at equal weight" if model == DEFAULT_WEIGHT
             else f"model weight {model:g} against shared words")
    if folder:
        words += f", nearest folders first at weight {folder:g}"
    if mention:
        words += f", the notes it names at weight {mention:g}"
    return words


def list_weights(weight: float) -> list[float]:
    """`fuse_ranked`'s weights for [the model's ranking, the lexical one]. Weight 0 still lets the model
    order the notes that the words leave out or tie: at `MODEL_FLOOR` its first place counts less than the
    lexical list's 100th, and less than the step between two of the lexical list's first 90 places."""
    return [max(weight, MODEL_FLOOR), 1.0]


def fused(model: list[int], words: list[int], weighting: Weighting = DEFAULT, folders: Mapping[int, str] | None = None,
          folder: str | None = None, named: list[int] | None = None) -> list[tuple[int, float]]:
    """The model's and the words' rankings fused at `weighting`: (id, relevance), best first, where relevance is
    the fused score over the best possible one, that of a note first in every list fused. With `folder` (the
    note's) and `folders` (each candidate's), a folder weight adds the fused candidates nearest the note's
    folder first (`folder_ranking.nearest_first`) as a third list, unless that list is the fused order itself
    (every candidate as near, as in a vault of one folder): it would say nothing new. A mention weight adds
    `named`, the notes the note names (`mentions.TitleIndex.named_in`), if it names any."""
    weights = list_weights(weighting.model)
    lists = [model, words]
    ranked = fuse_ranked(lists, weights=weights)
    if weighting.folder and folder is not None and folders is not None:
        fused_order = [item for item, _ in ranked]
        nearest = nearest_first(fused_order, folders, folder)
        if nearest != fused_order:
            lists, weights = [*lists, nearest], [*weights, weighting.folder]
    if weighting.mention and named:
        lists, weights = [*lists, named], [*weights, weighting.mention]
    if len(lists) > 2:
        ranked = fuse_ranked(lists, weights=weights)
    best = sum(weights) / (RRF_K + 1)
    return [(item, score / best) for item, score in ranked]


def weighted_ranking(model: list[int], words: list[int], weighting: Weighting, folders: Mapping[int, str] | None = None,
                     folder: str | None = None, named: list[int] | None = None, limit: int = RECALL_AT) -> list[int]:
    """The first `limit` ids of `fused`."""
    return [item for item, _ in fused(model, words, weighting, folders, folder, named)[:limit]]


def found_per_weighting(model: list[int], words: list[int], targets: Iterable[int], folders: Mapping[int, str] | None = None,
                        folder: str | None = None, named: list[int] | None = None) -> dict[Weighting, int]:
    """For one linking note: per weighting, how many of its link targets are among the first `RECALL_AT`."""
    targets = set(targets)
    return {weighting: len(targets.intersection(weighted_ranking(model, words, weighting, folders, folder, named)))
            for weighting in WEIGHTINGS}


def choose_weighting(found: Mapping[Weighting, float]) -> Weighting:
    """The weighting of `found` (the links each weighting tried found) that found the most. A tie keeps
    `DEFAULT` if it is among the tied, else the one with the least mention weight, then the least folder
    weight, then equal model weight, else the lowest: the links cannot tell them apart there, and the words
    are the ranking a reader can check. (Over three splits into folds, macro R@10 0.430 against 0.427 when a tie went to the model weight
    nearest the default; MiniLM 0.450 against 0.449.)"""
    return max((*found, DEFAULT), key=lambda w: (found.get(w, 0), -w.mention, w == DEFAULT, -w.folder, w.model == DEFAULT_WEIGHT, -w.model))
