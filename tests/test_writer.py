"""The hashtag writer: the whole base trained to write a note's hashtags (CSFT), shipped as a delta beside the default.

It runs through llama.cpp for the note on screen only; where the related notes carry no tags, it orders the note's
candidate words by how likely it is to write each one (`HashtagWriter.rank_tags`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from notellm.engine.errors import ModelError
from notellm.engine.folder_tags import folder_name
from notellm.engine.hashtags import normalise_tag, parse_topics, tag_key
from notellm.engine.lexical import document
from notellm.engine.markdown import parse_note
from notellm.engine.tag_suggestions import NoteTerms, suggest_hashtags
from notellm.engine.term_index import TermIndex
from notellm.training.heldout import untagged_copy

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = REPO / "assets" / "sample-vault"


def test_the_shipped_writer_is_the_whole_base_and_says_it_writes(shipped_writer):
    from notellm.engine.gguf_metadata import read_metadata
    from notellm.engine.model import read_model_header

    assert read_metadata(shipped_writer, {"llama.block_count"}) == {"llama.block_count": 30}
    header = read_model_header(shipped_writer)
    assert header.traits.writes_topics and header.prompt_version is not None


def test_the_writer_writes_tags_about_the_note_not_its_inline_tags(shipped_writer):
    from notellm.engine.writer import HashtagWriter

    writer = HashtagWriter(shipped_writer, threads=2, content_tokens=96)
    try:
        text = ("Knead flour, water, salt and a spoon of yeast into a dough, let it rise overnight, shape a loaf "
                "and bake it at 230 degrees until the crust is brown. #mykitchen")
        written = writer.write_topics("Baking bread at home", text, 3)
        tags = parse_topics(written)
    finally:
        writer.close()
    assert tags, written
    assert all(normalise_tag(tag) == tag for tag in tags)
    assert "mykitchen" not in {tag_key(tag) for tag in tags}  # it never saw the note's own inline tag


def test_the_embedding_model_is_no_writer(shipped_model):
    from notellm.engine.writer import HashtagWriter

    with pytest.raises(ModelError, match="not a NoteLLM model trained to write hashtags"):
        HashtagWriter(shipped_model, threads=1)


def test_the_writer_is_an_opt_in_that_the_environment_names(monkeypatch, tmp_path):
    from notellm.engine.config import resolve_writer

    monkeypatch.setenv("NOTELLM_WRITER", "none")
    assert resolve_writer() is None
    monkeypatch.setenv("NOTELLM_WRITER", str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelError, match="hashtag writer not found"):
        resolve_writer()
    monkeypatch.delenv("NOTELLM_WRITER")
    assert resolve_writer() is None


def test_the_writer_ranks_the_words_it_would_write_first(shipped_writer):
    from notellm.engine.writer import HashtagWriter

    writer = HashtagWriter(shipped_writer, threads=2)
    text = "Knead flour, water, salt and yeast into a dough, let it rise overnight and bake a loaf of bread."
    try:
        scores = writer.tag_scores("Baking bread at home", text, ["bread", "kubernetes", "taxes"], 3)
        ranked = writer.rank_tags("Baking bread at home", text, ["taxes", "kubernetes", "bread"], 3)
        unjudged = writer.rank_tags("Baking bread at home", text, ["taxes", "bread"], 3, should_stop=lambda: True)
    finally:
        writer.close()
    assert all(score < 0 for score in scores.values()), scores  # log-probabilities
    assert ranked[0] == "bread" and sorted(ranked) == ["bread", "kubernetes", "taxes"], scores
    assert unjudged == ["taxes", "bread"]  # stopped before judging: the order it was given


def test_the_writer_orders_the_notes_words_only_where_the_related_notes_carry_none():
    from notellm.engine.tag_suggestions import JUDGED_WORDS

    rows = [document("Sourdough bread", "starter flour water crumb crust oven loaf proof knead salt yeast rye spelt levain")] + [
        document(f"Note {i}", f"starter flour water crumb crust oven loaf proof knead salt yeast rye spelt levain word{i}")
        for i in range(3)] + [document(f"Other {i}", f"alpha{i} beta{i}") for i in range(40)]
    index = TermIndex.of(enumerate(rows))
    note = NoteTerms(0, rows[0].split(), {"sourdough", "bread"}, [set(rows[1].split())])
    asked = []

    def reversed_order(words):
        asked.append(list(words))
        return words[::-1]

    unranked = suggest_hashtags([[]], note, index, 0.0, 3)
    ranked = suggest_hashtags([[]], note, index, 0.0, 3, rank_words=reversed_order)
    assert 3 < len(asked[0]) <= JUDGED_WORDS and asked[0][:3] == unranked
    assert ranked == asked[0][::-1][:3]
    assert suggest_hashtags([["bread"], []], note, index, 0.0, 3, rank_words=reversed_order) == ["bread"]
    assert len(asked) == 1  # the related notes' tags answered: the writer was not asked


def test_a_writing_models_tags_lead_only_where_the_related_notes_carry_none():
    rows = [document("Sourdough", "starter flour water"), document("Bread", "flour water salt yeast")] + [
        document(f"Note {i}", f"alpha{i} beta{i}") for i in range(8)]
    index = TermIndex.of(enumerate(rows))
    note = NoteTerms(0, rows[0].split(), {"sourdough"}, [set(rows[1].split())])
    written = lambda: ["baking", "fermentation"]  # noqa: E731
    assert suggest_hashtags([[], []], note, index, 0.0, 3, written_tags=written)[:2] == ["baking", "fermentation"]
    assert suggest_hashtags([["bread"], []], note, index, 0.0, 3, written_tags=written) == ["bread"]


def test_a_tag_a_model_wrote_that_most_notes_hold_as_a_word_goes_only_where_it_weighs_most():
    rows = [document(f"Note {i}", "vault " * (1 + i % 5) + f"topic{i}") for i in range(40)]
    index = TermIndex.of(enumerate(rows))
    light = min(range(40), key=lambda i: (1 + i % 5, i))
    note = NoteTerms(light, rows[light].split(), set(), [])
    assert "vault" not in suggest_hashtags([[]], note, index, 0.0, 3, written_tags=lambda: ["vault", "notes"])
    assert suggest_hashtags([[]], note, index, 0.0, 3, written_tags=lambda: ["vault", "notes"])[0] == "notes"


def test_in_an_untagged_vault_the_writer_orders_each_notes_words(tmp_path, shipped_model, shipped_writer, open_index, monkeypatch):
    monkeypatch.setenv("NOTELLM_WRITER", str(shipped_writer))
    vault = untagged_copy(SAMPLE_VAULT, tmp_path / "untagged")
    index = open_index(vault, model=shipped_model)
    index.reindex()
    assert index.store.tagged_share() == 0.0
    notes = [row.path for row in index.notes() if row.skip_reason is None][:24]
    suggested = {path: index.suggest_tags(path, count=3) for path in notes}
    assert all(suggested.values()), suggested
    assert len({tuple(tags) for tags in suggested.values()}) >= 0.9 * len(notes)  # note-specific, not one list for all
    # A folder's name goes to its folder's notes, which sit together in path order: its share of the whole vault
    # is test_vocabulary_tags's to check.
    folder_names = {path: folder_name(path.rsplit("/", 1)[0]) if "/" in path else None for path in notes}
    per_tag = Counter(tag_key(tag) for path, tags in suggested.items() for tag in tags if tag != folder_names[path])
    assert max(per_tag.values()) <= 0.2 * len(notes), per_tag.most_common(3)
    for path, tags in suggested.items():  # after the tag head's one tag (and the folder's name), the words come best first by the writer
        parsed = parse_note((vault / path).read_text(encoding="utf-8"), Path(path).stem)
        words = [tag for tag in tags if tag != folder_names[path]]
        scores = index.hashtag_writer.tag_scores(parsed.title, parsed.text, words, 3)
        in_order = [words[i:] == sorted(words[i:], key=lambda tag: -scores[tag]) for i in (0, 1)]
        assert any(in_order), (path, scores)


def test_the_writers_data_keeps_shared_or_named_topics_and_cuts_inline_tags(tmp_path):
    from notellm.training.data import Dataset, prepare, writer_data

    topics = ["baking", "maths", "music", "chess", "hiking"]
    own_tags = {"one": ["note/specific/exact", "ferment"], "two": ["mte220", "knead"]}  # on 2 of a vault's 12 notes
    vaults = []
    for name, own in own_tags.items():
        vault = tmp_path / name
        vault.mkdir()
        for i in range(10):
            tags = ", ".join(["public", topics[i % 5]] + (own if i < 2 else []))
            (vault / f"note {i}.md").write_text(f"---\ntags: [{tags}]\n---\n"
                                                f"Some words about topic {i}, long enough to be a note worth a tag. #draft\n",
                                                encoding="utf-8")
        (vault / "stub.md").write_text("---\ntags: [chess]\n---\nshort\n", encoding="utf-8")
        vaults.append(vault)
    (vaults[0] / "sourdough.md").write_text(
        "---\ntags: [ferment, baking]\n---\nA sourdough starter needs to ferment for days before it leavens bread.\n", encoding="utf-8")
    prepare(vaults, tmp_path / "data")
    manifest = writer_data(tmp_path / "data", tmp_path / "writer")
    data = Dataset.load(tmp_path / "writer")
    targets = {note["id"]: note["targets"] for note in data.notes.values()}
    assert manifest["notes"] == 21, sorted(targets)  # the stubs have too little text to learn from
    for note in data.notes.values():
        assert "#draft" not in note["text"]
        if note["path"] != "sourdough.md":  # #public labels each vault; the others are one vault's own, unnamed
            assert note["targets"] in [[topic] for topic in topics], targets
    assert [note["targets"] for note in data.notes.values() if note["path"] == "sourdough.md"] == [["ferment", "baking"]]
