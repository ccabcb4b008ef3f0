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
from collections import Counter
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
    from notellm.training.heldout import (HASHTAG_COUNT, TAGGED_VAULT_NOTES, read_collection, tag_setting, tagged_vaults,
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

    rules = {"the vault's words, 3": None, "the vault's words, the first only": None}
    for most_held, capped in ((0.3, True), (0.6, True), (0.6, False)):
        rules[f"a theme word in 2-{most_held:.0%} of notes{', at most 10%' if capped else ', to any holder'}, else the first word"] = (most_held, capped)

    _, split, validation = bench.validation_collections()
    training = tagged_vaults([read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                              for c in split.train if c.notes <= 800 and c.tagged_notes >= TAGGED_VAULT_NOTES])
    print("| collections | rule | P@3 | most proposed tag over its share (worst collection) |\n|---|---|---|---|")
    for label, collections in (("validation (4)", tagged_vaults(validation)), (f"training ({len(training)})", training)):
        results = {rule: [] for rule in rules}
        for data in collections:
            setting = tag_setting(data, None, set(range(len(data.notes))))
            gold = [{tag_key(tag) for tag in note["tags"]} for note in data.notes]
            words = [vocabulary_only(setting, i) for i in range(len(data.notes))]
            for rule, theme in rules.items():
                if theme is None:
                    answers = [w[:HASHTAG_COUNT] if rule.endswith("3") else w[:1] for w in words]
                else:
                    answers = [theme_word(setting, i, *theme) or words[i][:1] for i in range(len(data.notes))]
                proposed = Counter(tag_key(tag) for tags in answers for tag in set(tags))
                top, count = proposed.most_common(1)[0] if proposed else ("", 0)
                over = count / len(answers) - max(sum(top in own for own in gold) / len(answers), MAX_SHARE)
                scores = [sum(tag_key(t) in own for t in tags) / len(tags) for tags, own in zip(answers, gold) if own and tags]
                results[rule].append((scores, over, data.name))
            print(f"{data.name} done", file=sys.stderr, flush=True)
        for rule, per in results.items():
            scores = [score for collection, _, _ in per for score in collection]
            worst = max(per, key=lambda row: row[1])
            print(f"| {label} | {rule} | {sum(scores) / max(len(scores), 1):.3f} | {worst[1]:+.1%} ({worst[2]}) |", flush=True)


if __name__ == "__main__":
    main()
