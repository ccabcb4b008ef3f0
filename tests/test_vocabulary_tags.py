"""Hashtags for vaults with few or no tags: the model's tag head, then a note's own salient words that a few
other notes share."""

from __future__ import annotations

import shutil
from collections import Counter

from notellm.engine.folder_tags import folder_name
from notellm.engine.lexical import document, terms
from notellm.engine.model import read_model_header
from notellm.engine.tag_suggestions import NoteTerms, suggest_hashtags
from notellm.engine.term_index import TermIndex
from notellm.engine.vocabulary_tags import vocabulary_tags
from notellm.training.heldout import untagged_copy

from conftest import SAMPLE_VAULT


def test_a_word_many_notes_hold_goes_only_to_the_notes_it_weighs_most_in():
    # "kernel" is in 8 of 30 notes, six times in notes 0-2: with a 10% cap only those three may get it.
    rows = [document(f"note {i}", "kernel " * (6 if i < 3 else 1 if i < 8 else 0) + f"topic{i % 10} topic{i % 10} filler")
            for i in range(30)]
    index = TermIndex.of(enumerate(rows))
    given = {i: vocabulary_tags(index, i, rows[i].split(), set(), [], limit=3) for i in range(30)}
    assert [i for i, tags in given.items() if "kernel" in tags] == [0, 1, 2]
    assert all(f"topic{i % 10}" in given[i] for i in range(30))  # in 3 of 30 notes: the band, under the cap
    assert not any("filler" in tags for tags in given.values())  # in every note: names no topic


def test_a_vault_of_a_handful_of_notes_still_gets_the_words_two_notes_share():
    # 2 of 6 notes is a third of the vault, over the 30% band: a tiny vault must not lose every candidate.
    rows = [document("Graph view", "graph nodes links"), document("Backlinks", "graph panel links")] + [
        document(f"Other {i}", f"alpha{i} beta{i}") for i in range(4)]
    index = TermIndex.of(enumerate(rows))
    assert set(vocabulary_tags(index, 0, rows[0].split(), {"graph", "view"}, [], limit=3)) == {"graph", "links"}


def test_the_one_common_tag_far_away_is_proposed_only_in_a_well_tagged_vault():
    rows = [document(f"Graph {i}", "graph view nodes") if i < 3 else document(f"Recipe {i}", "publish pages") for i in range(30)]
    index = TermIndex.of(enumerate(rows))
    far_recipe = [[]] * 12 + [["recipe"]]  # no close neighbour is tagged; the 13th carries #recipe
    note = NoteTerms(0, rows[0].split(), {"graph"}, [set(rows[i].split()) for i in (1, 2)])
    assert suggest_hashtags(far_recipe, note, index, tagged_share=0.9) == ["recipe"]
    assert suggest_hashtags(far_recipe, note, index, tagged_share=0.2) == ["graph", "nodes", "view"]


def test_own_and_dismissed_tags_are_never_proposed_in_any_spelling():
    rows = [document("Sourdough", "starter starter flour"), document("Bread", "starter flour"), document("Tea", "leaves")]
    index = TermIndex.of(enumerate(rows))
    assert "starter" not in vocabulary_tags(index, 0, rows[0].split(), {"sourdough"}, [], exclude=["#Starter"])


def test_the_models_tag_must_be_written_somewhere_in_the_vault():
    # The tag head knows the training corpus's tags; #unicloud, written by no note here, is another vault's topic.
    rows = [document("Publish to Netlify", "netlify deploy build site"), document("Deploy", "netlify deploy site"),
            document("Static sites", "hugo site generator"), document("Tea", "green leaves")]
    index = TermIndex.of(enumerate(rows))
    note = NoteTerms(0, rows[0].split(), {"publish", "netlify"}, [set(rows[1].split())])
    assert suggest_hashtags([[]], note, index, 0.0, 3, model_tags=lambda: ["unicloud", "static-site", "netlify"])[0] == "static-site"
    assert suggest_hashtags([[]], note, index, 0.0, 3, model_tags=lambda: ["unicloud"])[0] != "unicloud"


def test_an_untagged_vault_gets_note_specific_hashtags_from_the_shipped_model(tmp_path, shipped_model, open_index):
    vault = untagged_copy(SAMPLE_VAULT, tmp_path / "untagged")
    index = open_index(vault, model=shipped_model)
    index.reindex()
    assert index.store.tagged_share() == 0.0
    notes = [row.path for row in index.notes() if row.skip_reason is None]
    suggested = {path: index.suggest_tags(path) for path in notes}
    assert sum(bool(tags) for tags in suggested.values()) >= 0.9 * len(notes)
    assert len({tuple(tags) for tags in suggested.values()}) >= 0.9 * len(notes)  # note-specific, not one list for all
    per_tag = Counter(tag for tags in suggested.values() for tag in tags)
    assert max(per_tag.values()) <= 0.10 * len(notes)
    head = set(read_model_header(shipped_model).tag_head.tags)
    vault_words = {term for path in notes for term in terms((vault / path).read_text(encoding="utf-8"))}
    for path, tags in suggested.items():  # the model's tag leads, then the note's folder's name and own words
        words = set(terms((vault / path).read_text(encoding="utf-8")))
        folder = {folder_name(path.rsplit("/", 1)[0])} if "/" in path else set()
        assert set(tags[1:]) <= words | folder and tags[0] in head | words | folder, (path, tags)
        assert set(terms(tags[0])) <= vault_words, (path, tags)  # a tag of the model's that the vault writes
    assert sum(tags[0] in head for tags in suggested.values()) >= 0.5 * len(notes)


def test_the_sample_vault_no_longer_gets_its_one_common_tag_everywhere(tmp_path, shipped_model, open_index):
    vault = tmp_path / "sample"
    shutil.copytree(SAMPLE_VAULT, vault)
    index = open_index(vault, model=shipped_model)
    index.reindex()
    for path in ("user/features/wikilinks.md", "user/features/graph-view.md", "user/features/backlinking.md", "index.md"):
        tags = index.suggest_tags(path)
        assert tags and "recipe" not in tags, (path, tags)
    assert index.suggest_tags("user/features/wikilinks.md") != index.suggest_tags("user/features/graph-view.md")
