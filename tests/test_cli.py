"""The notellm-engine command line: output, --json, exit codes, help."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from click.testing import CliRunner

from conftest import ENGINE
from notellm.engine.cli import cli


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def test_reindex_related_tags_search_status_as_json(garden):
    summary = json.loads(run("reindex", garden, "--tokens", "48", "--json", "-q").output)
    assert summary["embedded"] == 6 and summary["notes_per_second"] > 0

    related = json.loads(run("related", garden, "Linear algebra.md", "-k", "3", "--tokens", "48", "--json").output)
    assert len(related) == 3 and set(related[0]) == {"path", "title", "folder", "score", "linked", "reason"}

    text = run("related", garden, "Linear algebra.md", "-k", "5", "--tokens", "48").output
    assert "Matrix multiplication.md  [linked]" in text

    status = json.loads(run("status", garden, "--tokens", "48", "--json").output)
    assert status["indexed"] == 6 and status["stale"] == 0
    assert status["writer"] == ""  # no NOTELLM_WRITER: hashtags without the writer
    assert "hashtags: from related notes' tags" in run("status", garden, "--tokens", "48").output

    hits = json.loads(run("search", garden, "bread and yeast", "--tokens", "48", "--json").output)
    assert len(hits) == 6

    tags = json.loads(run("tags", garden, "Bread", "--tokens", "48", "--json", "--apply", "baking").output)
    assert tags["applied"] == ["baking"]
    assert "baking" in (garden / "Baking" / "Bread.md").read_text()


def test_errors_are_one_line_messages_with_nonzero_exit(garden, tmp_path):
    missing_vault = run("reindex", tmp_path / "nope")
    assert missing_vault.exit_code == 1 and "vault folder not found" in missing_vault.output
    assert "Traceback" not in missing_vault.output

    bad_model = tmp_path / "model.gguf"
    bad_model.write_bytes(b"not a model")
    broken = run("reindex", garden, "--model", bad_model)
    assert broken.exit_code == 1 and "not a readable GGUF" in broken.output

    run("reindex", garden, "--tokens", "48", "-q")
    unknown = run("related", garden, "Nothing like this", "--tokens", "48")
    assert unknown.exit_code == 1 and "no note 'Nothing like this'" in unknown.output


def test_corrupt_index_says_how_to_recover(garden, notellm_home):
    run("reindex", garden, "--tokens", "48", "-q")
    database = next(notellm_home.glob("vaults/*/index.db"))
    for extra in database.parent.glob("index.db-*"):
        extra.unlink()
    database.write_bytes(b"garbage" * 1000)
    result = run("status", garden)
    assert result.exit_code == 1 and f"notellm-engine reindex {garden} --rebuild" in result.output


def test_a_damaged_page_is_one_line_and_reindex_rebuild_recovers(garden, notellm_home):
    """Zeroed pages in the middle of the file (not its header): the error shows up in a query, not on open."""
    for number in range(30):  # enough notes for a database of several pages
        (garden / f"extra {number}.md").write_text(f"# Extra {number}\n\n" + "filler words about bread and math " * 40)
    assert run("reindex", garden, "--tokens", "16", "-q").exit_code == 0
    database = next(notellm_home.glob("vaults/*/index.db"))
    pages = database.stat().st_size // 4096
    assert pages > 4 and not Path(f"{database}-wal").exists()
    with open(database, "r+b") as handle:  # dd if=/dev/zero of=index.db bs=4096 seek=2 count=pages-3 conv=notrunc
        handle.seek(2 * 4096)
        handle.write(bytes(4096 * (pages - 3)))

    for command in (["status", garden], ["related", garden, "Bread"], ["reindex", garden, "-q"]):
        result = run(*command)
        assert result.exit_code == 1, (command, result.output)
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
        assert "damaged" in result.output and f"notellm-engine reindex {garden} --rebuild" in result.output
    as_json = run("status", garden, "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.output)["code"] == "index_corrupt"

    rebuilt = run("reindex", garden, "--rebuild", "--tokens", "16", "-q", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.output)["embedded"] == 36
    assert json.loads(run("status", garden, "--json").output)["stale"] == 0
    assert list(database.parent.glob("damaged-*/index.db"))  # the damaged file is kept, not deleted


def test_json_errors_are_json_with_a_code(garden, tmp_path):
    missing = run("reindex", tmp_path / "nope", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.output) == {"error": f"vault folder not found: {tmp_path / 'nope'}", "code": "vault_not_found"}
    unknown = run("related", garden, "Nothing like this", "--json")
    assert unknown.exit_code == 1 and json.loads(unknown.output)["code"] == "note_not_found"


def test_rejected_tags_are_named_and_fail_when_nothing_is_applied(garden):
    run("reindex", garden, "--tokens", "48", "-q")
    before = (garden / "Baking" / "Bread.md").read_bytes()
    rejected = run("tags", garden, "Bread", "--apply", "]", "--apply", "#", "--apply", "12345", "--json")
    assert rejected.exit_code == 1 and json.loads(rejected.output)["code"] == "tag_rejected"
    assert "only digits" in json.loads(rejected.output)["error"]
    assert (garden / "Baking" / "Bread.md").read_bytes() == before
    mixed = run("tags", garden, "Bread", "--apply", "baking", "--apply", "]")
    assert mixed.exit_code == 0 and "applied:   #baking" in mixed.output
    assert "rejected:  ']' (no letters or digits to make a tag of)" in mixed.output


def test_settings_are_remembered_only_by_a_command_that_succeeds_and_means_it(garden, tmp_path):
    assert run("reindex", garden, "--tokens", "48", "-q").exit_code == 0
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a model")

    run("related", garden, "Bread", "--model", garbage)  # a read-only command: remembers nothing
    run("status", garden, "--exclude", "*")
    run("search", garden, "bread", "--tokens", "16")
    failed = run("reindex", garden, "--model", garbage)  # fails: remembers nothing, keeps the vectors
    assert failed.exit_code == 1 and "not a readable GGUF" in failed.output

    again = json.loads(run("reindex", garden, "--json", "-q").output)
    assert (again["embedded"], again["removed"], again["unchanged"]) == (0, 0, 6)
    assert len(json.loads(run("related", garden, "Bread", "--json").output)) == 5

    shown = json.loads(run("config", garden, "--exclude", "Baking", "--json").output)
    assert shown["exclude"] == ["Baking"] and shown["content_tokens"] == 48
    assert json.loads(run("reindex", garden, "--json", "-q").output)["removed"] == 3
    bad_config = run("config", garden, "--model", garbage)
    assert bad_config.exit_code == 1 and json.loads(run("config", garden, "--json").output)["model"] != str(garbage)


def test_related_scores_follow_the_order_on_the_sample_vault(tmp_path, shipped_model):
    """The score shown is the fused relevance that orders the list (the cosine it replaced did not)."""
    import shutil

    from conftest import SAMPLE_VAULT

    vault = shutil.copytree(SAMPLE_VAULT, tmp_path / "sample")
    options = ["--model", shipped_model, "--tokens", "48"]
    run("reindex", vault, "-q", *options)
    for note in ("user/features/backlinking.md", "user/features/block-anchors.md"):
        related = json.loads(run("related", vault, note, "-k", "10", "--json", *options).output)
        scores = [r["score"] for r in related]
        assert len(scores) == 10 and scores == sorted(scores, reverse=True), f"{note}: {scores}"
        assert all(0.0 < s <= 1.0 for s in scores)
        text = run("related", vault, note, "-k", "10", *options).output
        shown = [float(line.split()[0]) for line in text.splitlines() if not line.startswith(" " * 8)]  # not the reasons
        assert shown == [round(s, 3) for s in scores]
        kept = json.loads(run("related", vault, note, "-k", "10", "--json", "--min-score", scores[4], *options).output)
        assert [r["path"] for r in kept] == [r["path"] for r in related if r["score"] >= scores[4]]
    assert "relevance" in run("related", "--help").output


def test_every_command_has_help_with_an_explanation():
    top = run("--help").output
    for command in ("reindex", "related", "tags", "search", "watch", "status", "config"):
        assert command in top
        help_text = run(command, "--help").output
        assert "Usage:" in help_text and len(help_text.splitlines()) > 8


def test_python_dash_m_and_version():
    result = subprocess.run([*ENGINE, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "notellm-engine, version" in result.stdout


def test_killed_reindex_resumes_and_ends_consistent(tmp_path, notellm_home):
    """SIGKILL in the middle of a reindex, run it again: SQLite and USearch agree, nothing is lost."""
    from conftest import SAMPLE_VAULT
    import shutil

    vault = shutil.copytree(SAMPLE_VAULT, tmp_path / "sample")
    notes = len(list(vault.rglob("*.md")))
    command = [*ENGINE, "reindex", str(vault), "--tokens", "32", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    database = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some batches are committed, then kill
        database = next(notellm_home.glob("vaults/*/index.db"), None)
        if database and _embedded(database) >= 16:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = _embedded(database)
    assert 0 < done_before < notes

    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["embedded"] + summary["unchanged"] == notes
    assert summary["embedded"] <= notes - done_before + 8  # at most one batch was lost to the kill

    from notellm.engine import VaultIndex

    with VaultIndex.open(vault, content_tokens=32) as index:
        vectors = index._vector_index()
        ids = {row.id for row in index.notes() if row.indexed}
        assert len(ids) == notes == len(vectors)
        assert all(note_id in vectors.index for note_id in ids)
        assert index.status().stale == 0


def test_a_kill_loses_at_most_a_couple_of_seconds_of_embedding(tmp_path, notellm_home):
    """Each vector is committed within about BATCH_SECONDS of being computed, the first one at once:
    a SIGKILL soon after indexing starts keeps what was done, and the next run embeds only the rest."""
    from conftest import SAMPLE_VAULT
    import shutil

    vault = shutil.copytree(SAMPLE_VAULT, tmp_path / "sample")
    notes = len(list(vault.rglob("*.md")))
    command = [*ENGINE, "reindex", str(vault), "--tokens", "32", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    seen = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(set(seen)) < 3:
        database = next(notellm_home.glob("vaults/*/index.db"), None)
        count = _embedded(database) if database else 0
        if count:
            seen.append(count)
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert seen and seen[0] < 8, seen  # the first vector did not wait for a batch of 8
    done_before = _embedded(database)
    assert 0 < done_before < notes

    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["unchanged"] == done_before and summary["embedded"] == notes - done_before


def _embedded(database):
    import sqlite3

    try:
        with sqlite3.connect(database, timeout=5) as connection:
            return connection.execute("select count(*) from notes where embedding is not null").fetchone()[0]
    except sqlite3.Error:
        return 0
