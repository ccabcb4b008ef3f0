"""Hashtags in a tagged vault, protocol (a): do the notes a note links with, and its folder's, vote with its related notes?

    .venv/bin/python experiments/linked_tags.py [--seeds 8]

A vault's links are part of it: the engine knows which notes link to or from the note on screen
(`Store.linked_ids`, the `[linked]` badge). For each hidden note of the tagged validation collections (seeded
samples of 50), its linked notes are those it links to or that link to it (the collection's resolved links;
the hidden notes' own tags stay hidden, so a linked hidden note votes for nothing). Rules:

- related notes only (`engine.neighbour_tags` before links and folders), the related notes ranked as the
  benchmark ranks them, and the engine's rule now;
- linked first: the same rule over the related notes reordered so that the linked ones come first, in their
  related order;
- link votes added: the related notes' score plus γ × the share of the linked notes carrying the tag, keeping as many
  tags as the engine proposes, or as many as reach the engine's count rule or a link share of at least 0.34 / 0.5;
- folder votes added: the related notes' score plus φ × the share of the other notes in the note's folder carrying
  the tag (the engine knows each note's folder too).

With `--train`, the same on the tagged training collections of at most 800 notes, related notes by the lexical
match alone (no model: it trained on them), to choose the constants away from the validation collections.
With `--panel`, related notes as the app's panel ranks them and as `VaultIndex.suggest_tags` reads them (the
default's vectors with the lexical match, the folders and the named notes, at the weighting the collection's
links choose); with `--train` too, the model's share of those neighbours is in-vault.

Related notes: the default's vectors (cached by `bench/heldout.py`, made here if missing) fused with the lexical
match at the weight the collection's links choose, as the benchmark's protocol (a) does. Pooled P@3.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train", action="store_true",
                        help="the tagged training collections of at most --max-notes notes instead, related notes by the lexical match alone")
    parser.add_argument("--max-notes", type=int, default=800)
    parser.add_argument("--panel", action="store_true",
                        help="related notes as the panel ranks them (the default's vectors, with the folders and the named notes), "
                             "on the training collections too")
    args = parser.parse_args()

    import heldout as bench  # bench/heldout.py: its caches
    import numpy as np
    from notellm.engine import fusion_weight
    from notellm.engine.hashtags import tag_key
    from notellm.engine.model import NoteModel
    from notellm.engine.neighbour_tags import (FALLBACK_NEIGHBOURS, FAR_SHARE, NAMED_FACTOR, NEIGHBOURS, VOTE_FLOOR, folder_votes,
                                               neighbour_tags, tag_shares, tag_votes)
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import (HASHTAG_COUNT, HIDDEN_TAG_NOTES, cosine_scores, engine_ranks, neighbour_votes,
                                         note_folders, popular_tags, tag_setting, tagged_sample, tagged_vaults, vault_choice,
                                         weighted_ranks)

    if args.train:
        from notellm.training.corpus import DEFAULT_CORPUS, extract
        from notellm.training.heldout import TAGGED_VAULT_NOTES, read_collection

        chosen = [c for c in bench.validation_collections()[1].train if c.notes <= args.max_notes and c.tagged_notes >= TAGGED_VAULT_NOTES]
        collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in chosen]
    else:
        collections = bench.validation_collections()[2]
    path = REPO / "assets" / "models" / "notellm-default.gguf"
    key = bench.model_key(path, DEFAULT_CONTENT_TOKENS)
    model = None

    def embed(notes):
        nonlocal model
        model = model or NoteModel(path, threads=args.threads)
        return model.embed_notes([(n["title"], n["text"]) for n in notes], DEFAULT_CONTENT_TOKENS)

    notes = []  # (collection, gold keys, {rule: answer}, {tag key: features}, spellings, engine count, links?, at the top?)
    for data in tagged_vaults(collections):
        if args.train and not args.panel:  # the model trained on these: its neighbours would be in-vault ones
            vectors, untagged, weighting = None, None, fusion_weight.DEFAULT
        else:
            vectors = bench.cached_vectors("default-train" if args.train else "default", key, data, embed)[0]
            untagged = bench.untagged_vectors("default-train" if args.train else "default", key, data, embed)
            link_scores = cosine_scores(vectors, data.sources), LexicalRanker().scores(data.notes, data.sources)
            ranks = (engine_ranks if args.panel else weighted_ranks)(*link_scores, data)
            weighting = vault_choice(ranks, data)
        folders = note_folders(data)
        members = defaultdict(list)
        for i, folder in enumerate(folders):
            members[folder].append(i)
        for seed in range(args.seeds):
            sample = tagged_sample(data, HIDDEN_TAG_NOTES, seed)
            setting = tag_setting(data, vectors, set(sample), untagged, weighting=weighting)
            spelling = {tag_key(t): t for tags in setting.visible for t in tags}
            for i in sample:
                related = list(setting.nearest[i])
                mine = setting.linked[i]
                note = setting.note_terms(i)
                ordered = [j for j in related if j in mine] + [j for j in sorted(mine) if j not in related]
                lists = [setting.visible[j] for j in related]
                first = [setting.visible[j] for j in ordered] + [setting.visible[j] for j in related if j not in mine]
                answers = {"neighbour votes (protocol (a)'s baseline)": neighbour_votes(setting, i),
                           "the vault's 3 most common tags": popular_tags(setting, i),
                           "related notes only (the engine's rule before)": neighbour_tags(lists, [], HASHTAG_COUNT, note_terms=setting.terms[i]),
                           "the engine now (`engine.neighbour_tags`, links and folders)": neighbour_tags(
                               lists, [], HASHTAG_COUNT, note_terms=setting.terms[i], linked_tag_lists=note.linked_tag_lists,
                               folder_tag_lists=note.folder_tag_lists),
                           "linked notes first": neighbour_tags(first, [], HASHTAG_COUNT, note_terms=setting.terms[i])}
                near, far = tag_votes(lists[:NEIGHBOURS], set()), tag_votes(lists[:FALLBACK_NEIGHBOURS], set())
                share = tag_shares(note.linked_tag_lists, set())
                # every folder votes here, the vault's top too, for the rows that leave `folder_votes` out
                folder = tag_shares([setting.visible[j] for j in members[folders[i]] if j != i], set())
                named = {tag_key(t) for t in setting.terms[i]}
                engine_count = len(answers["related notes only (the engine's rule before)"])
                features = {k: (near.get(k, 0.0), far.get(k, 0.0), share.get(k, 0.0), k in named, folder.get(k, 0.0))
                            for k in set(far) | set(share) | set(folder)}
                notes.append((data.name, {tag_key(t) for t in data.notes[i]["tags"]}, answers, features, spelling,
                              engine_count, bool(mine), not folder_votes(folders[i])))
            print(f"{data.name} seed {seed}: weighting {weighting.key()}, {sum(bool(setting.linked[i]) for i in sample)}/{len(sample)} hidden notes link",
                  file=sys.stderr, flush=True)
    if model is not None:
        model.close()

    def added(gamma: float, phi: float = 0.0, subfolders_only: bool = False):
        out = []
        for _, _, _, features, spelling, engine_count, _, at_root in notes:
            use_folder = phi if not (subfolders_only and at_root) else 0.0
            score = {k: (near + FAR_SHARE * far + VOTE_FLOOR) * (NAMED_FACTOR if named else 1.0) + gamma * share + use_folder * folder
                     for k, (near, far, share, named, folder) in features.items()}
            out.append([spelling[k] for k in sorted(score, key=lambda k: (-score[k], k))[:engine_count]])
        return out

    rows = {name: [answers[name] for _, _, answers, *_ in notes] for name in notes[0][2]}
    rows["the tags most common in the note's folder, the engine's count (φ = 1000)"] = added(0.0, 1000.0)
    for gamma in (0.0, 1.0, 2.0):
        for phi in (0.0, 2.0, 3.0, 4.0, 6.0, 10.0):
            if gamma or phi:
                rows[f"related notes + γ = {gamma} × linked share + φ = {phi} × folder share"] = added(gamma, phi)
            if phi:
                rows[f"related notes + γ = {gamma} × linked share + φ = {phi} × folder share, subfolders only"] = added(gamma, phi, True)

    def precision(answers, only_linked=False):
        per = {}
        for (name, gold, *_, has_links, _), tags in zip(notes, answers):
            if tags and (has_links or not only_linked):
                per.setdefault(name, []).append(sum(tag_key(t) in gold for t in tags) / len(tags))
        pooled = [value for values in per.values() for value in values]
        return float(np.mean(pooled)), {name.split("__")[0]: float(np.mean(values)) for name, values in per.items()}

    linking = sum(n[-2] for n in notes)
    print(f"{len(notes)} hidden notes, {linking} with links ({linking / len(notes):.0%})")
    print("| rule | (a) P@3 | notes that link | per collection |\n|---|---|---|---|")
    for name, answers in rows.items():
        pooled, per = precision(answers)
        print(f"| {name} | {pooled:.3f} | {precision(answers, True)[0]:.3f} | "
              f"{', '.join(f'{k} {v:.3f}' for k, v in per.items())} |", flush=True)


if __name__ == "__main__":
    main()
