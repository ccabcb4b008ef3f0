"""How much a vault's related notes lean on the model against the words they share, chosen from its own links.

Related notes fuse the model's ranking with the lexical match by reciprocal rank (`lexical.fuse_ranked`),
the model's list counting `weight` times. Equal weight is best on most collections, but not everywhere:
on the Russian validation collection the lexical match alone finds 0.591 of the links and the fused
ranking 0.513. A vault's existing links say which way it leans. For up to `MAX_SOURCES` notes that link
to other notes, the note with its link words cut (`markdown.strip_links`: a link names its target) is
embedded again and ranked both ways, and each weight of `WEIGHTS` is scored by how many of its linked
notes it puts among the first `RECALL_AT`. The best weight is the vault's (`choose_weight` breaks ties); a
vault with fewer than `MIN_SOURCES` linking notes keeps `DEFAULT_WEIGHT`.

Cutting the link words from both sides matters. Scored by five-fold cross-validation over the validation
collections' link sources, each fold ranked with the weight its other four folds chose (the default
model; macro R@10 0.424 at weight 1 everywhere): 0.431 like this, 0.429 with the links kept on both sides,
0.425 with them cut from the lexical query only, which leans the choice toward the model
(`experiments/calibration_views.py`, docs/experiments.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

from .lexical import fuse_ranked

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # 0: the lexical match alone
DEFAULT_WEIGHT = 1.0
MIN_SOURCES = 20  # fewer linking notes than this say too little to move away from the default
MAX_SOURCES = 200  # a sample this large is stable, and cheap: one embedding, one vector search and one lexical query each
BATCH = 8  # linking notes embedded at a time, between two chances to step aside
RECALL_AT = 10  # the related notes a panel shows
MODEL_FLOOR = 1e-3  # the model's weight when the vault's is 0 (`list_weights`)
META_KEY = "fusion_weight"  # where the index keeps its `Calibration` (JSON)


@dataclass
class Calibration:
    """The model's weight for a vault, and what it was chosen from: `sources` linking notes with `links`
    links between them and the vault; `found`, per weight, how many of those links it ranked among the first
    `RECALL_AT`. `embedder` and `link_count` (all of the vault's links) say whether it still holds."""

    weight: float
    sources: int
    links: int
    found: dict[float, int] = field(default_factory=dict)
    embedder: str = ""
    link_count: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping) -> "Calibration":
        found = {float(weight): int(count) for weight, count in values.get("found", {}).items()}
        return cls(float(values["weight"]), int(values["sources"]), int(values["links"]), found,
                   str(values.get("embedder", "")), int(values.get("link_count", 0)))

    def describe(self) -> str:
        """One line for `status`: what related notes lean on, and why."""
        if self.sources < MIN_SOURCES:
            return (f"model and shared words at equal weight ({self.sources} notes link to others; "
                    f"{MIN_SOURCES} are needed to choose from the vault's own links)")
        leaning = "shared words alone" if self.weight == 0 else f"model weight {self.weight:g} against shared words"
        return f"{leaning}, chosen from {self.links} links of {self.sources} notes"

    def current(self, embedder: str | None, link_count: int) -> bool:
        """Whether it still holds: the same model, and the vault's links changed by less than a tenth."""
        return embedder == self.embedder and abs(link_count - self.link_count) <= max(1, self.link_count // 10)


def list_weights(weight: float) -> list[float]:
    """`fuse_ranked`'s weights for [the model's ranking, the lexical one]. Weight 0 still lets the model
    order the notes that the words leave out or tie: at `MODEL_FLOOR` its first place counts less than the
    lexical list's 100th, and less than the step between two of the lexical list's first 90 places."""
    return [max(weight, MODEL_FLOOR), 1.0]


def weighted_ranking(model: list[int], words: list[int], weight: float, limit: int = RECALL_AT) -> list[int]:
    """The first `limit` ids of the two rankings fused with the model counting `weight` times."""
    return [item for item, _ in fuse_ranked([model, words], weights=list_weights(weight))[:limit]]


def found_per_weight(model: list[int], words: list[int], targets: Iterable[int]) -> dict[float, int]:
    """For one linking note: per weight, how many of its link targets are among the first `RECALL_AT`."""
    targets = set(targets)
    return {weight: len(targets.intersection(weighted_ranking(model, words, weight))) for weight in WEIGHTS}


def choose_weight(found: Mapping[float, float]) -> float:
    """The weight that found the most links. A tie keeps `DEFAULT_WEIGHT` if it is among the tied, else the
    lowest of them: the links cannot tell the model from the words there, and the words are the ranking a
    reader can check. (Over three splits into folds, macro R@10 0.430 against 0.427 when a tie went to the
    weight nearest the default; MiniLM 0.450 against 0.449.)"""
    return max(WEIGHTS, key=lambda weight: (found.get(weight, 0), weight == DEFAULT_WEIGHT, -weight))
