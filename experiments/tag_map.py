"""A tagged vault's own tags adapt the model's vectors for its hashtags: a linear map fitted to the notes that share
a tag, as the vault map (`engine.vault_map`) is fitted to the notes that link, screened on protocol (a).

    .venv/bin/python experiments/tag_map.py [--seeds N]

Each hidden note's related notes are ranked as the panel ranks them (`training.heldout.tag_setting`), from the
model's vectors as they are, mapped by the vault's link map as the engine keeps it (`map_choice` over every link),
mapped by a map fitted to the visible tags (each visible tagged note an anchor, its vector that of its text with
every inline #tag cut, the notes sharing one of its tags its targets), or by one fitted to both. The engine's
suggestions (`engine_suggestion`) read them. Tagged training collections first (where a setting is chosen; their
related notes are in-vault for the model), then the four tagged validation collections. Pooled precision@3 (a note's
mean, as `hashtag_metrics`) and right - wrong tags a note (`tag_screen.Tally`).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
MAX_NOTES = 800
MAX_TARGETS = 50  # of a note's tag mates, sampled: a tag nearly every note carries says little of any one


def tag_examples(data, hidden: set[int], seed: int) -> dict[int, set[int]]:
    """{visible tagged note: the other visible notes sharing a tag with it}."""
    import random

    from notellm.engine.hashtags import tag_key

    carriers = defaultdict(set)
    for i, note in enumerate(data.notes):
        if i not in hidden:
            for tag in note["tags"]:
                carriers[tag_key(tag)].add(i)
    mates = {}
    rng = random.Random(seed)
    for i, note in enumerate(data.notes):
        if i in hidden or not note["tags"]:
            continue
        others = sorted(set().union(*(carriers[tag_key(tag)] for tag in note["tags"])) - {i})
        if others:
            mates[i] = set(rng.sample(others, min(MAX_TARGETS, len(others))))
    return mates


def note_precision(data, index: int, tags: list[str]) -> float:
    """The share of a note's suggested tags that are its own: `hashtag_metrics`' precision@3 for one note."""
    from notellm.engine.hashtags import tag_key

    gold = {tag_key(tag) for tag in data.notes[index]["tags"]}
    return sum(tag_key(tag) in gold for tag in tags[:3]) / len(tags[:3])


def main() -> None:
    import heldout as bench
    from tag_screen import Tally

    from notellm.engine import vault_map
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import (HIDDEN_TAG_NOTES, LexicalRanker, engine_suggestion, map_choice, panel_weighting,
                                          read_collection, tag_setting, tagged_sample, tagged_vaults)

    seeds = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 3
    key, embed = bench.note_embedder(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    _, split, validation = bench.validation_collections()
    training = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                for c in split.train if c.notes <= MAX_NOTES]
    for label, collections, method in (("training", training, "default-train"), ("validation", validation, "default")):
        tallies: dict[str, Tally] = defaultdict(Tally)
        precisions: dict[str, list[float]] = defaultdict(list)
        per_collection: dict[str, dict[str, Tally]] = {}
        for data in tagged_vaults(collections):
            started = time.time()
            vectors = bench.cached_vectors(method, key, data, embed)[0].astype(np.float32)
            untagged = bench.untagged_vectors(method, key, data, embed).astype(np.float32)
            weighting = panel_weighting(vectors, data)
            choice = map_choice(vectors, LexicalRanker().scores(data.notes, data.sources), data, data.sources)
            link_targets = defaultdict(set)
            for source, target in data.links:
                link_targets[source].add(target)
            here: dict[str, Tally] = defaultdict(Tally)
            for seed in range(seeds):
                sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
                hidden = set(sample)
                mates = tag_examples(data, hidden, seed)
                tag_map = vault_map.fit(vectors, [vault_map.Example(i, untagged[i], frozenset(m)) for i, m in sorted(mates.items())])
                both_rows = sorted(set(mates) | set(link_targets))
                both = vault_map.fit(vectors, [vault_map.Example(i, untagged[i] if i in mates else vectors[i],
                                                                 frozenset(mates.get(i, set()) | link_targets.get(i, set())))
                                               for i in both_rows])
                for name, mapping in (("as they are", None), ("the link map, as the engine keeps it", choice.fitted if choice.kept else None),
                                      ("the link map, always", choice.fitted), ("a tag map", tag_map), ("a map of tags and links", both)):
                    setting = tag_setting(data, vectors, hidden, untagged, weighting=weighting, mapping=mapping)
                    answers = {i: engine_suggestion(setting, i) for i in sample}
                    tallies[name].add(data, answers)
                    here[name].add(data, answers)
                    precisions[name].extend(note_precision(data, i, tags) for i, tags in answers.items() if tags)
            per_collection[data.name] = here
            print(label, data.name, f"{time.time() - started:.0f} s", {name: round(t.per_note()[1], 3) for name, t in here.items()},
                  flush=True)
        print(f"\n{label}: {len(per_collection)} tagged collections, {seeds} samples of {HIDDEN_TAG_NOTES}")
        print("| related notes by | P@3 | tags a note | right - wrong a note |\n|---|---|---|---|")
        for name, tally in tallies.items():
            per_note, margin = tally.per_note()
            print(f"| {name} | {np.mean(precisions[name]):.3f} | {per_note:.2f} | {margin:.3f} |")
        print(flush=True)


if __name__ == "__main__":
    main()
