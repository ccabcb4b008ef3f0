"""Hashtags in an untagged vault, protocol (b): is a note's folder name one of its tags?

    .venv/bin/python experiments/folder_names.py

Every tag of each tagged collection is hidden (protocol (b)). Rules, each up to three tags:

- the vault's words (`engine.vocabulary_tags`, the engine's word step; related notes by the lexical match alone,
  so no model enters and the training collections are as unseen as the validation ones);
- the note's folder name first (`engine.folder_tags`: its last part as a tag, where the folders of that name hold
  at most 10% of the vault's notes and the note is not at the vault's top; and, as the engine asks of any tag
  from elsewhere, `vocabulary_tags.within_share`), then the words;
- the same with any folder size (the share rule of protocol (b) may break).

On the four tagged validation collections and the 21 tagged training collections of at most 800 notes (as
`experiments/linked_tags.py --train`).
P@3 over the notes that carry tags (weighted by them), and the most proposed tag's share of notes.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    import heldout as bench  # bench/heldout.py: the validation split
    from notellm.engine.folder_tags import folder_name, folder_tag, notes_by_folder_name
    from notellm.engine.hashtags import tag_key
    from notellm.engine.vocabulary_tags import within_share
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.heldout import (HASHTAG_COUNT, TAGGED_VAULT_NOTES, note_folders, read_collection, tag_setting,
                                         tagged_vaults, vocabulary_only)

    _, split, validation = bench.validation_collections()
    training = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                for c in split.train if c.notes <= 800 and c.tagged_notes >= TAGGED_VAULT_NOTES]
    print("| collections | rule | P@3 | most proposed tag |\n|---|---|---|---|")
    training = tagged_vaults(training)  # as the protocols count them: at least 100 notes whose tags the engine reads
    for label, collections in (("validation (4)", tagged_vaults(validation)), (f"training ({len(training)})", training)):
        rows = {"the vault's words": [], "the folder's name, then the words (`engine.folder_tags`)": [],
                "the folder's name at any folder size, then the words": []}
        for data in collections:
            setting = tag_setting(data, None, set(range(len(data.notes))))
            folders = note_folders(data)
            by_name = notes_by_folder_name(Counter(folders))
            answers = {name: [] for name in rows}
            for i, folder in enumerate(folders):
                words = vocabulary_only(setting, i)
                name, shipped = folder_name(folder), folder_tag(folder, by_name, len(folders))
                answers["the vault's words"].append(words)
                for rule, lead in (("the folder's name, then the words (`engine.folder_tags`)",
                                    shipped if shipped and within_share(setting.index, shipped, i) else None),
                                   ("the folder's name at any folder size, then the words", name)):
                    answers[rule].append(([lead] if lead else []) + [w for w in words if tag_key(w) != tag_key(lead or "")])
                    answers[rule][-1] = answers[rule][-1][:HASHTAG_COUNT]
            gold = [{tag_key(tag) for tag in note["tags"]} for note in data.notes]
            for rule, tags_per_note in answers.items():
                proposed = Counter(tag_key(tag) for tags in tags_per_note for tag in set(tags))
                top_share = proposed.most_common(1)[0][1] / len(data.notes) if proposed else 0.0
                scores = [sum(tag_key(t) in own for t in tags) / len(tags) for tags, own in zip(tags_per_note, gold) if own and tags]
                rows[rule].append((scores, top_share))
            print(f"{data.name}: {len(set(folders))} folders", file=sys.stderr, flush=True)
        for rule, per in rows.items():
            scores = [score for collection, _ in per for score in collection]
            print(f"| {label} | {rule} | {sum(scores) / max(len(scores), 1):.3f} | {max(share for _, share in per):.1%} |", flush=True)


if __name__ == "__main__":
    main()
