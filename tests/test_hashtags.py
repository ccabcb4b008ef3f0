"""Suggested tags are clean, and accepting one edits only the frontmatter's tags."""

import pytest

from notellm.engine.errors import NoteChangedError, NoteLLMError
from notellm.engine.hashtags import apply_tags, normalise_tag, normalise_tag_with_reason, parse_topics
from notellm.engine.markdown import parse_note
from notellm.engine.vault import content_hash


def test_generated_text_becomes_clean_unique_tags_in_the_vaults_spelling():
    generated = ' "Linear Algebra", #MachineLearning, linear-algebra, , a sentence that is much too long to be a tag, 2024, #python.'
    assert parse_topics(generated, vault_tags=["machine-learning"]) == ["Linear-Algebra", "machine-learning", "python"]


@pytest.mark.parametrize(("raw", "cleaned", "why"), [
    ("#Machine learning.", "Machine-learning", None),
    ("x" * 41, None, "longer than 40 characters"),
    ("one two three four five", None, "more than 4 words"),
    ("2024", None, "only digits (a tag needs a letter)"),
    ("!!!", None, "no letters or digits to make a tag of"),
])
def test_one_rule_cleans_a_tag_and_says_why_it_cannot(raw, cleaned, why):
    assert normalise_tag_with_reason(raw) == (cleaned, why)
    assert normalise_tag(raw) == cleaned


def test_existing_and_refused_tags_are_not_suggested():
    assert parse_topics("#math, #algebra, #vectors", exclude=["Math", "vectors"]) == ["algebra"]


def test_numbered_copies_of_a_written_topic_are_repeats():
    assert parse_topics(" #math, #math-101, #Math_2, #web3") == ["math", "web3"]


BODY = "\n# Title\n\nBody text with #inline tag.\r\nKeep   spacing\n\n"


@pytest.mark.parametrize(
    "frontmatter, expected_frontmatter",
    [
        ("", "---\ntags: [new]\n---\n"),
        ("---\ntitle: T\n---\n", "---\ntitle: T\ntags: [new]\n---\n"),
        ("---\ntags: [a, b]\n---\n", "---\ntags: [a, b, new]\n---\n"),
        ("---\ntags: []\n---\n", "---\ntags: [new]\n---\n"),
        ("---\ntags:\n  - a\n  - b\nother: 1\n---\n", "---\ntags:\n  - a\n  - b\n  - new\nother: 1\n---\n"),
        ("---\ntags:\n- a\n---\n", "---\ntags:\n- a\n- new\n---\n"),
        ("---\ntags: a, b\n---\n", "---\ntags: a, b, new\n---\n"),
        ("---\ntags: a\n---\n", "---\ntags: a new\n---\n"),
        ("---\r\ntags: [a]\r\ntitle: T\r\n---\r\n", "---\r\ntags: [a, new]\r\ntitle: T\r\n---\r\n"),
    ],
)
def test_accepting_a_tag_keeps_every_other_byte(tmp_path, frontmatter, expected_frontmatter):
    note = tmp_path / "note.md"
    note.write_bytes((frontmatter + BODY).encode())
    assert apply_tags(note, ["new"]) == ["new"]
    assert note.read_bytes() == (expected_frontmatter + BODY).encode()
    assert "new" in parse_note(note.read_text(), "note").tags


def test_tags_the_note_has_are_not_added_twice(tmp_path):
    note = tmp_path / "note.md"
    note.write_text("---\ntags: [Math]\n---\ntext #inline\n")
    before = note.read_bytes()
    assert apply_tags(note, ["math", "#inline"]) == []
    assert note.read_bytes() == before


def test_a_note_edited_since_indexing_is_not_overwritten(tmp_path):
    note = tmp_path / "note.md"
    note.write_text("old")
    stale_hash = content_hash(b"old")
    note.write_text("edited by the user")
    with pytest.raises(NoteChangedError):
        apply_tags(note, ["x"], expected_hash=stale_hash)
    assert note.read_text() == "edited by the user"


def test_broken_frontmatter_is_not_touched(tmp_path):
    note = tmp_path / "note.md"
    note.write_text("---\ntags: [x\n---\nbody\n")
    with pytest.raises(NoteLLMError):
        apply_tags(note, ["y"])
    assert note.read_text() == "---\ntags: [x\n---\nbody\n"


def test_file_mode_is_kept_and_no_temp_file_is_left(tmp_path):
    note = tmp_path / "note.md"
    note.write_text("text")
    note.chmod(0o640)
    apply_tags(note, ["x"])
    assert note.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]
