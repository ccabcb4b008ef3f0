"""Hashtags in an untagged vault, protocol (b): the vault's words without the words every vault writes and no vault tags.

    .venv/bin/python experiments/generic_words.py

The word step (`engine.vocabulary_tags`) keeps a note's terms that a few notes of its vault share, so it proposes
words such as #show, #unique or #write, which many notes hold and nobody tags, and outside English the words its
English stopword list misses (#можно). A *generic word* is learnt from the training collections alone: a term that
at least `FLOOR` of a collection's notes hold in at least S collections, and that no training collection uses as a
tag (`engine.hashtags.tag_key`). Scored with those words left out of the word step, for several S.

Related notes by the lexical match alone, so no model enters (as `experiments/theme_words.py`). On the four tagged
validation collections (the list never saw them) and the 21 tagged training collections of at most 800 notes (whose
words made the list: not an unseen figure). P@3 over the notes that carry tags; the share of the proposed tags that
are generic words at the largest S, as a measure of how often a reader meets one; the most proposed tag's share
of notes over the larger of 10% and the share that carries it (above 0: the share rule broken).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

FLOOR = 0.05  # a term held by at least this share of a collection's notes is in common use there
SPREADS = (3, 5, 10, 20)


def generic_words(collections, spread: int) -> set[str]:
    """Terms in common use in at least `spread` of `collections` that none of them tags."""
    from notellm.engine.hashtags import tag_key
    from notellm.engine.lexical import document

    common, tagged = Counter(), set()
    for data in collections:
        held = Counter(term for note in data.notes for term in set(document(note["title"], note["text"]).split()))
        common.update(term for term, count in held.items() if count >= FLOOR * len(data.notes))
        tagged.update(tag_key(tag) for note in data.notes for tag in note["tags"])
    return {term for term, count in common.items() if count >= spread and tag_key(term) not in tagged}


def main() -> None:
    import heldout as bench  # bench/heldout.py: the validation split
    from notellm.engine import vocabulary_tags
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import (TAGGED_VAULT_NOTES, pooled_untagged, read_collection, tagged_vaults, untagged_protocol,
                                         vocabulary_only)

    _, split, validation = bench.validation_collections()
    every_training = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in split.train]
    lists = {spread: generic_words(every_training, spread) for spread in SPREADS}
    for spread, words in lists.items():
        print(f"S = {spread}: {len(words)} generic words, e.g. {' '.join(sorted(words)[:: max(1, len(words) // 25)][:25])}", flush=True)
    widest = lists[min(SPREADS)]
    is_word_tag = vocabulary_tags.is_word_tag

    def without(words: set[str]):
        def suggest(setting, note: int) -> list[str]:
            vocabulary_tags.is_word_tag = lambda term: term not in words and is_word_tag(term)
            try:
                return vocabulary_only(setting, note)
            finally:
                vocabulary_tags.is_word_tag = is_word_tag
        return suggest

    rules = {"the vault's words (the engine's step)": vocabulary_only}
    rules.update({f"without the generic words, S = {spread}": without(words) for spread, words in lists.items()})
    training = tagged_vaults([data for data, c in zip(every_training, split.train)
                              if c.notes <= 800 and c.tagged_notes >= TAGGED_VAULT_NOTES])
    print(f"\n| collections | rule | P@3 | proposed tags that are generic (S = {min(SPREADS)}) | most proposed tag over its share |\n"
          "|---|---|---|---|---|")
    for label, collections in (("validation (4)", tagged_vaults(validation)), (f"training ({len(training)})", training)):
        proposed = {rule: Counter() for rule in rules}
        recording = {rule: recorded(suggest, proposed[rule]) for rule, suggest in rules.items()}
        rows = [untagged_protocol(data, None, recording) for data in collections]
        for rule in rules:
            pooled = pooled_untagged([row[rule] for row in rows])
            generic = sum(count for tag, count in proposed[rule].items() if tag in widest) / max(sum(proposed[rule].values()), 1)
            print(f"| {label} | {rule} | {pooled['precision@3']:.3f} | {generic:.1%} | {pooled['top_over_carried']:+.1%} |", flush=True)


def recorded(suggest, proposed: Counter):
    """`suggest`, counting every tag it proposes into `proposed`."""
    from notellm.training.heldout import HASHTAG_COUNT

    def recording(setting, note: int) -> list[str]:
        tags = suggest(setting, note)
        proposed.update(tags[:HASHTAG_COUNT])  # what the protocol keeps
        return tags
    return recording


if __name__ == "__main__":
    main()
