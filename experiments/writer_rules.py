"""Where the hashtag writer's tags go among a note's suggestions, scored on both hashtag protocols.

    .venv/bin/python experiments/writer_rules.py [WRITER.gguf]

Reads what `bench/heldout.py` cached (the default's vectors, the writer's answers for every note of the tagged
validation collections) and the collections' fusion weights from docs/benchmarks/heldout.json, so run the bench
with the same writer first. Related notes are ranked as the app ranked them when this was measured (the pair,
`default + lexical, weighted by links`; the app's hashtags now read the panel's related notes). Each rule is a suggester of `training.heldout`'s protocols:

- `engine`: what `engine.tag_suggestions.suggest_hashtags` does now without the writer;
- `writer first, N`: the writer's tags leading as a model's own written tags do (`WRITTEN_TAGS` = N; 0: no writer),
  which is how the engine used the writer when this was measured;
- `votes, then the writer's vault tags`: the neighbours' votes, then, while fewer than three, the writer's tags
  that the vault already uses (its visible tags), then what the engine would add.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    import heldout as bench  # bench/heldout.py: its caches
    from notellm.engine import fusion_weight, tag_suggestions
    from notellm.engine.hashtags import tag_key
    from notellm.engine.model import NoteModel
    from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
    from notellm.training.heldout import (HASHTAG_COUNT, SUGGESTERS, cosine_scores, engine_suggestion, hidden_tags_protocol, neighbour_votes,
                                         pooled_hashtags, pooled_untagged, read_collection, tagged_vaults, untagged_protocol)

    writer = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "models" / "notellm-writer.gguf"
    default = REPO / "assets" / "models" / "notellm-default.gguf"
    split = split_collections(read_manifest(DEFAULT_CORPUS), SplitRule(seed=0))
    collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name) for c in split.validation]
    tagged = tagged_vaults(collections)
    results = json.loads(bench.RESULTS.read_text(encoding="utf-8"))
    weights = results["methods"]["default + lexical, weighted by links"]["vault_weights"]
    written = {name: answers for name, (answers, _) in bench.cached_writing(writer, tagged, 2).items()}
    model = NoteModel(default, threads=2)
    key = bench.model_key(default, 128)

    def embed(notes):
        return model.embed_notes([(n["title"], n["text"]) for n in notes], 128)

    def with_written_tags(count: int):
        def suggest(setting, index):  # the writer's tags through the engine's path for a model that writes
            kept, tag_suggestions.WRITTEN_TAGS = tag_suggestions.WRITTEN_TAGS, count
            try:
                tagged_share = sum(bool(tags) for tags in setting.visible) / len(setting.visible)
                return tag_suggestions.suggest_hashtags(
                    [setting.visible[j] for j in setting.nearest[index]], setting.note_terms(index), setting.index, tagged_share,
                    HASHTAG_COUNT, lambda: setting.model_tags(index), lambda: setting.written_tags(index))
            finally:
                tag_suggestions.WRITTEN_TAGS = kept
        return suggest

    def votes_then_vault_tags(setting, index):
        tags = neighbour_votes(setting, index)
        vault = {tag_key(tag) for tags in setting.visible for tag in tags}
        taken = {tag_key(tag) for tag in tags}
        tags += [tag for tag in setting.written_tags(index) if tag_key(tag) in vault and tag_key(tag) not in taken]
        return tags[:3] if tags else engine_suggestion(setting, index)

    rules = {"engine": SUGGESTERS["engine"], "writer first, 0": with_written_tags(0), "writer first, 1": with_written_tags(1),
             "writer first, 2": with_written_tags(2), "writer first, 3": with_written_tags(3),
             "votes, then the writer's vault tags": votes_then_vault_tags}
    rows = {"hidden": {}, "untagged": {}}
    for data in tagged:
        vectors, _ = bench.cached_vectors("default", key, data, embed)
        cosine = cosine_scores(vectors, list(range(len(data.notes))))
        for name, protocol in (("hidden", hidden_tags_protocol), ("untagged", untagged_protocol)):
            for rule, result in protocol(data, cosine, rules, weighting=fusion_weight.Weighting(weights[data.name]), written=written[data.name]).items():
                rows[name].setdefault(rule, []).append(result)
    model.close()
    print("| rule | (a) P@3 | (b) coverage | (b) P@3 | (b) top share |\n|---|---|---|---|---|")
    for rule in rules:
        hidden, untagged = pooled_hashtags(rows["hidden"][rule]), pooled_untagged(rows["untagged"][rule])
        print(f"| {rule} | {hidden['precision@3']:.3f} | {untagged['coverage']:.0%} | {untagged['precision@3']:.3f} | "
              f"{untagged['top_share']:.1%} |")


if __name__ == "__main__":
    main()
