"""A tag lexicon learnt from the corpus: how often a word that a note uses is also one of its tags.

    .venv/bin/python experiments/tag_lexicon.py data/corpus

The vocabulary step (`engine.vocabulary_tags`) ranks a note's own words by their weight in it and by how
many of its related notes share them; it cannot tell a word that people tag with ("android", "docker",
"kanji") from one they only write ("example", "result"). The training corpus can: over its tagged notes,
the share of the notes using a word that also carry it as a tag. Scored on the untagged protocol (b) over
the tagged validation collections, related notes by the lexical match alone, as a factor on the
vocabulary step's score and as the only score among the note's in-band words.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

from notellm.engine import vocabulary_tags as vocab
from notellm.engine.hashtags import tag_key
from notellm.engine.lexical import terms
from notellm.engine.markdown import INLINE_TAG
from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
from notellm.training.data import Dataset
from notellm.training.heldout import pooled_untagged, read_collection, tagged_vaults, untagged_protocol

REPO = Path(__file__).resolve().parents[1]


def tag_keys(tags: list[str]) -> set[str]:
    """A note's tags as keys, a hierarchical tag's last part too (`lang/python` names python)."""
    keys = set()
    for tag in tags:
        keys.add(tag_key(tag))
        keys.add(tag_key(tag.rsplit("/", 1)[-1]))
    return keys


def lexicon(notes: list[dict], min_vaults: int = 1, smoothing: float = 5.0) -> dict[str, float]:
    """word -> mean over the vaults that use it in ≥ 5 tagged notes of (notes tagging it / notes using it),
    shrunk toward 0 by `smoothing` notes; only words that some vault tags."""
    held = defaultdict(Counter)
    hits = defaultdict(Counter)
    for note in notes:
        keys = tag_keys(note["tags"])
        for term in set(terms(note["title"] + "\n" + INLINE_TAG.sub("", note["text"]))):
            held[note["vault"]][term] += 1
            if tag_key(term) in keys:
                hits[note["vault"]][term] += 1
    tagged_words = {term for counts in hits.values() for term in counts}
    rates = defaultdict(list)
    for vault, counts in held.items():
        for term in tagged_words & counts.keys():
            if counts[term] >= 5:
                rates[term].append((hits[vault][term], counts[term]))
    return {term: sum(h for h, _ in rows) / (sum(n for _, n in rows) + smoothing) for term, rows in rates.items()
            if sum(h > 0 for h, _ in rows) >= min_vaults}


def with_prior(prior: dict[str, float], power: float, only: bool = False):
    """`vocabulary_tags` with each candidate's score times prior^power (or the prior alone)."""
    def suggest(setting, index):
        note = setting.note_terms(index)
        scores = {}
        votes_from = note.neighbour_terms[:vocab.VOTE_NEIGHBOURS]
        for term in dict.fromkeys(note.terms):
            if not vocab.is_word_tag(term) or term not in prior:
                continue
            weight = vocab.weight_in_note(setting.index, term, index)
            if weight is None:
                continue
            if only:
                scores[term] = prior[term]
                continue
            if term in note.title_terms:
                weight *= vocab.TITLE_WEIGHT
            votes = sum(1.0 / rank for rank, held in enumerate(votes_from, 1) if term in held)
            scores[term] = weight * (1.0 + votes) ** vocab.VOTE_POWER * prior[term] ** power
        return sorted(scores, key=lambda term: (-scores[term], term))[:3]
    return suggest


def main(data: Path) -> None:
    notes = [note for note in Dataset.load(data).notes.values() if note.get("tags")]
    split = split_collections(read_manifest(DEFAULT_CORPUS), SplitRule(seed=0))
    collections = tagged_vaults([read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                                 for c in split.validation])
    variants = {"vocabulary (shipped)": lambda setting, index: vocab.vocabulary_tags(
        setting.index, index, *[getattr(setting.note_terms(index), f) for f in ("terms", "title_terms", "neighbour_terms")])}
    for min_vaults in (1, 2):
        prior = lexicon(notes, min_vaults)
        print(f"lexicon, words tagged in ≥ {min_vaults} vaults: {len(prior)} words", flush=True)
        for power in (0.5, 1.0, 2.0):
            variants[f"× prior^{power:g}, ≥{min_vaults} vaults"] = with_prior(prior, power)
        variants[f"prior only, ≥{min_vaults} vaults"] = with_prior(prior, 0, only=True)
    rows = {name: [] for name in variants}
    for data_ in collections:
        result = untagged_protocol(data_, None, variants)
        for name in variants:
            rows[name].append(result[name])
        print(data_.name, {name: round(result[name]["precision@3"], 3) for name in variants}, flush=True)
    for name, per in rows.items():
        pooled = pooled_untagged(per)
        print(f"{name:32s} P@3 {pooled['precision@3']:.3f}  coverage {pooled['coverage']:.1%}  top share {pooled['top_share']:.1%}"
              f"  per collection {[round(r['precision@3'], 3) for r in per]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
