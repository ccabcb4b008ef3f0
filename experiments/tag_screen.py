"""What the protocol (a) screens of a tagged vault's hashtag rules share: the hidden notes' settings, collection by
collection, and the tally of right and wrong tags.

Related notes as the app's panel ranks them (`training.heldout.tag_setting`: the shipped default's vectors, a hidden
note's without its inline tags, with the lexical match, the folders and the named notes at the weighting the
collection's links choose), seeded samples of 50 hidden notes. First the tagged training collections of at most
`MAX_NOTES` notes (where a screen decides; the model trained on their links, so their related notes are in-vault),
then the four tagged validation collections (what it reports). Used by `folder_votes.py` and `exclusive_tags.py`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
MAX_NOTES = 800


def hidden_tag_settings(seeds: int) -> Iterator[tuple[str, list, Iterator]]:
    """For "training" then "validation": (label, the tagged collections, an iterator of (collection, sample, setting)
    over each collection's `seeds` samples, which prints a line as each collection is done)."""
    import heldout as bench

    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import HIDDEN_TAG_NOTES, panel_weighting, read_collection, tag_setting, tagged_sample, tagged_vaults

    key, embed = bench.note_embedder(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    _, split, validation = bench.validation_collections()
    training = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                for c in split.train if c.notes <= MAX_NOTES]

    def samples(label: str, datas: list, method: str) -> Iterator:
        for data in datas:
            vectors = bench.cached_vectors(method, key, data, embed)[0]
            untagged = bench.untagged_vectors(method, key, data, embed)
            weighting = panel_weighting(vectors, data)
            for seed in range(seeds):
                sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
                yield data, sample, tag_setting(data, vectors, set(sample), untagged, weighting=weighting)
            print(f"{label}: {data.name} done", file=sys.stderr, flush=True)

    for label, collections, method in (("training", training, "default-train"), ("validation", validation, "default")):
        datas = tagged_vaults(collections)
        yield label, datas, samples(label, datas, method)


@dataclass
class Tally:
    """Notes answered, tags proposed and tags right, for right - wrong tags a note."""

    notes: int = 0
    proposed: int = 0
    right: int = 0

    def add(self, data, answers: dict[int, list[str]]) -> None:
        from notellm.engine.hashtags import tag_key

        for i, tags in answers.items():
            gold = {tag_key(tag) for tag in data.notes[i]["tags"]}
            self.notes += 1
            self.proposed += len(tags)
            self.right += sum(tag_key(tag) in gold for tag in tags)

    def per_note(self) -> tuple[float, float]:
        """(tags a note, right - wrong tags a note)."""
        return self.proposed / self.notes, (2 * self.right - self.proposed) / self.notes
