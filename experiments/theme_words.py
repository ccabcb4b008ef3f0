"""Hashtags in an untagged vault, protocol (b): the vault's broad theme words, and one tag instead of three.

    .venv/bin/python experiments/theme_words.py

Every tag of each tagged collection is hidden (protocol (b)); related notes by the lexical match alone, so no
model enters. Rules:

- the vault's words (`engine.vocabulary_tags`, the engine's word step), three tags, and only its first;
- a theme word, then the first of the vault's words when there is none: the note's term that most notes of
  the vault hold (title terms twice), among the terms that name a tag of the shipped model's tag head (its
  vocabulary, learnt from the training corpus's tags), held by 2%-30% or 2%-60% of the vault's notes, and
  going only to the notes where it weighs most, at most 10% of the vault (as `engine.vocabulary_tags`), or
  to any note that holds it.

On the four tagged validation collections and the 21 tagged training collections of at most 800 notes (as
`experiments/folder_names.py`). The tag head's vocabulary holds the training collections' own tags, so a
theme word's figure there is not an unseen one. P@3 over the notes that carry tags, and the most proposed
tag's share of notes over the larger of 10% and the share that carries it (above 0: the share rule broken).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    import numpy as np

    import heldout as bench  # bench/heldout.py: the validation split
    from notellm.engine.gguf_metadata import TAG_HEAD_TAGS_KEY, read_metadata
    from notellm.engine.hashtags import tag_key
    from notellm.engine.vocabulary_tags import MAX_SHARE, MIN_NOTES, is_word_tag
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import (TAGGED_VAULT_NOTES, pooled_untagged, read_collection, tagged_vaults, untagged_protocol,
                                         vocabulary_only)

    model = REPO / "assets" / "models" / "notellm-default.gguf"
    head_words = {tag_key(tag) for tag in read_metadata(model, [TAG_HEAD_TAGS_KEY])[TAG_HEAD_TAGS_KEY]}

    def theme_word(setting, note: int, most_held: float, capped: bool) -> list[str]:
        index, scores = setting.index, {}
        for term in dict.fromkeys(setting.terms[note]):
            held = index.counts.get(term, 0)
            if tag_key(term) not in head_words or not is_word_tag(term) or not max(MIN_NOTES, 0.02 * index.rows) <= held <= most_held * index.rows:
                continue
            ids, weights = index.holders(term)
            mine = weights[ids == note]
            if capped and np.sum(weights > mine[0]) >= max(MIN_NOTES, int(MAX_SHARE * index.rows)):
                continue
            scores[term] = held * (2 if term in setting.title_terms[note] else 1)
        return sorted(scores, key=lambda term: (-scores[term], term))[:1]

    rules = {"the vault's words, 3": vocabulary_only,
             "the vault's words, the first only": lambda setting, i: vocabulary_only(setting, i)[:1]}
    for most_held, capped in ((0.3, True), (0.6, True), (0.6, False)):
        rules[f"a theme word in 2-{most_held:.0%} of notes{', at most 10%' if capped else ', to any holder'}, else the first word"] = (
            lambda setting, i, most_held=most_held, capped=capped: theme_word(setting, i, most_held, capped) or vocabulary_only(setting, i)[:1])

    _, split, validation = bench.validation_collections()
    training = tagged_vaults([read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                              for c in split.train if c.notes <= 800 and c.tagged_notes >= TAGGED_VAULT_NOTES])
    print("| collections | rule | P@3 | most proposed tag over its share (worst collection) |\n|---|---|---|---|")
    for label, collections in (("validation (4)", tagged_vaults(validation)), (f"training ({len(training)})", training)):
        rows = {data.name: untagged_protocol(data, None, rules) for data in collections}  # protocol (b), as bench/heldout.py
        for rule in rules:
            pooled = pooled_untagged([row[rule] for row in rows.values()])
            worst = max(rows, key=lambda name: rows[name][rule]["top_share"] - max(rows[name][rule]["top_carried"], MAX_SHARE))
            print(f"| {label} | {rule} | {pooled['precision@3']:.3f} | {pooled['top_over_carried']:+.1%} ({worst}) |", flush=True)


if __name__ == "__main__":
    main()
