"""Finding and reading notes: what is skipped, why, and how links resolve on real vaults."""

import os
from pathlib import Path

from conftest import SAMPLE_VAULT, write_notes
from notellm.engine.markdown import Link
from notellm.engine.vault import OUTSIDE_VAULT, FileStat, LinkResolver, Note, Skipped, is_hidden, read_note, read_notes, scan


def read_all(root: Path) -> dict[str, Note | Skipped]:
    found = scan(root)
    results = {s.path: s for s in found.skipped}
    results.update({path: read_note(root, f, max_bytes=1_000_000) for path, f in found.files.items()})
    return results


def test_hidden_folders_excluded_globs_and_other_files_are_left_out(tmp_path):
    write_notes(tmp_path, {
        "a.md": "a", "b.markdown": "b", ".obsidian/c.md": "c", ".trash/d.md": "d",
        "templates/t.md": "t", "image.png": "x", "sub/e.md": "e",
    })
    assert sorted(scan(tmp_path, exclude=("templates",)).files) == ["a.md", "b.markdown", "sub/e.md"]


def test_a_hidden_file_or_folder_anywhere_in_the_path_is_hidden():
    assert is_hidden(".obsidian/c.md") and is_hidden("notes/.git/x.md") and is_hidden("sub/.draft.md")
    assert not is_hidden("sub/e.md") and not is_hidden("v1.2/notes.md")


def test_every_kind_of_bad_input_is_skipped_with_a_reason(tmp_path):
    write_notes(tmp_path, {
        "good.md": "# Good\ntext",
        "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
        "latin1.md": "caf\xe9".encode("latin-1"),
        "huge.md": "word " * 300_000,
        "empty.md": "  \n\n",
        "broken yaml.md": "---\ntags: [x\n---\n# Body\n",
    })
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "missing.md")
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "again").symlink_to(tmp_path / "loop")
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")

    results = read_all(tmp_path)
    reasons = {path: r.reason for path, r in results.items() if isinstance(r, Skipped)}
    assert reasons["binary.md"] == "binary file, not Markdown"
    assert reasons["latin1.md"].startswith("not valid UTF-8")
    assert reasons["huge.md"].startswith("too large")
    assert reasons["empty.md"] == "empty note"
    assert reasons["pipe.md"] == "not a regular file"
    assert reasons["dangling.md"] == "broken symlink"
    assert reasons["loop/again"].startswith("symlink loop")
    assert reasons["self.md"] == "symlink loop"
    assert isinstance(results["good.md"], Note)
    assert results["broken yaml.md"].parsed.frontmatter_error


def test_a_note_that_vanishes_between_scan_and_read_is_skipped(tmp_path):
    write_notes(tmp_path, {"gone.md": "soon gone"})
    file = scan(tmp_path).files["gone.md"]
    (tmp_path / "gone.md").unlink()
    assert read_note(tmp_path, file).reason == "vanished while indexing"


def test_unreadable_file_is_skipped_not_fatal(tmp_path):
    write_notes(tmp_path, {"secret.md": "private"})
    file = scan(tmp_path).files["secret.md"]
    (tmp_path / "secret.md").chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the path unopenable another way
        (tmp_path / "secret.md").chmod(0o600)
        (tmp_path / "secret.md").unlink()
        (tmp_path / "secret.md").mkdir()
    result = read_note(tmp_path, file)
    assert isinstance(result, Skipped)
    assert result.reason.startswith(("permission denied", "unreadable"))


def test_link_resolution_prefers_path_then_unique_name_then_alias():
    paths = ["a/Note.md", "b/Note.md", "b/Unique.md", "top.md", "docs/guide.md"]
    resolver = LinkResolver(paths, {"top.md": ["Start here"]})
    assert resolver.resolve("x.md", Link("b/Note", "wiki")) == "b/Note.md"
    assert resolver.resolve("x.md", Link("Unique", "wiki")) == "b/Unique.md"
    assert resolver.resolve("x.md", Link("Start here", "wiki")) == "top.md"
    assert resolver.resolve("docs/sub/x.md", Link("../guide.md", "markdown")) == "docs/guide.md"
    assert resolver.resolve("x.md", Link("Nowhere", "wiki")) is None


def test_one_rule_finds_a_note_by_name_whatever_suffix_the_vault_accepts():
    """`find`, the name lookup of the engine and the app alike: path, path without its suffix (.md or
    .markdown), file name (in the folder the name gives first, else the shortest path), alias, then title."""
    paths = ["Ideas/Garden.markdown", "a/Note.md", "b/deep/Note.md", "Journal.md"]
    resolver = LinkResolver(paths, {"Journal.md": ["Diary"]},
                            {"Ideas/Garden.markdown": "My garden", "Journal.md": "The year", "a/Note.md": "Note"})
    assert resolver.find("Ideas/Garden") == "Ideas/Garden.markdown"
    assert resolver.find("/ideas/garden.markdown") == "Ideas/Garden.markdown"
    assert resolver.find("Garden") == "Ideas/Garden.markdown"
    assert resolver.find("my garden") == "Ideas/Garden.markdown"
    assert resolver.find("Note") == "a/Note.md"
    assert resolver.find("deep/Note") == "b/deep/Note.md"
    assert resolver.resolve("x.md", Link("deep/Note", "wiki")) == "b/deep/Note.md"
    assert resolver.find("Diary") == "Journal.md" and resolver.find("The year") == "Journal.md"
    assert resolver.find(" ") is None and resolver.find("Nowhere") is None


def test_dendron_style_dotted_names_resolve_as_whole_names():
    resolver = LinkResolver(["dendron.topic.sub.md", "v1.2/notes.md"], {})
    assert resolver.resolve("x.md", Link("dendron.topic.sub", "wiki")) == "dendron.topic.sub.md"
    assert resolver.resolve("x.md", Link("notes", "wiki")) == "v1.2/notes.md"


def test_real_vault_links_resolve_like_obsidian():
    """The sample vault (Foam's docs): every one of its ~200 wikilinks resolves but the two whose notes it lacks."""
    root = SAMPLE_VAULT
    notes = read_notes(root)
    resolver = LinkResolver([n.path for n in notes], {n.path: n.parsed.aliases for n in notes})
    wiki = [(n.path, link) for n in notes for link in n.parsed.links if link.kind == "wiki" and not link.target.startswith("http")]
    unresolved = sorted({link.target for source, link in wiki if resolver.resolve(source, link) is None})
    assert len(notes) == 86 and len(wiki) > 190
    assert unresolved == ["cli-grep", "publishing"]  # neither note is in the sample vault


def test_symlinks_are_followed_only_while_their_target_stays_inside_the_vault(tmp_path):
    vault = write_notes(tmp_path / "vault", {"a.md": "# A", "real/r.md": "# R"})
    outside = write_notes(tmp_path / "outside", {"sub/s.md": "# S\nsecret", "passwd": "root:x:0:0"})
    (vault / "lnk").symlink_to(outside / "sub")  # a folder outside
    (vault / "passwd.md").symlink_to(outside / "passwd")  # a file outside
    (vault / "alias.md").symlink_to(vault / "real" / "r.md")  # a file inside: followed
    (vault / "a-shortcut").symlink_to(vault / "real")  # a folder inside, listed before the real one
    (vault / "deeper").symlink_to("lnk")  # a link to a link that leads outside

    found = scan(vault)
    reasons = {s.path: s.reason for s in found.skipped}
    assert sorted(found.files) == ["a.md", "alias.md", "real/r.md"]  # notes under their real path
    assert reasons == {
        "lnk": OUTSIDE_VAULT,
        "passwd.md": OUTSIDE_VAULT,
        "deeper": OUTSIDE_VAULT,
        "a-shortcut": "symlink to a folder already indexed",
    }


def test_a_note_swapped_for_a_link_to_outside_after_the_scan_is_not_read(tmp_path):
    vault = write_notes(tmp_path / "vault", {"n.md": "# N\nmine"})
    secret = write_notes(tmp_path / "outside", {"s.md": "# S\nsecret words"}) / "s.md"
    file = scan(vault).files["n.md"]
    (vault / "n.md").unlink()
    (vault / "n.md").symlink_to(secret)
    result = read_note(vault, FileStat("n.md", file.mtime_ns, secret.stat().st_size))
    assert isinstance(result, Skipped) and result.reason == OUTSIDE_VAULT
