"""The notellm-engine command line: output, --json, exit codes, help."""

import json
import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

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
    assert result.exit_code == 1 and "delete that folder and run reindex" in result.output


def test_every_command_has_help_with_an_explanation():
    top = run("--help").output
    for command in ("reindex", "related", "tags", "search", "watch", "status"):
        assert command in top
        help_text = run(command, "--help").output
        assert "Usage:" in help_text and len(help_text.splitlines()) > 8


def test_python_dash_m_and_version():
    result = subprocess.run([sys.executable, "-m", "notellm.engine", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "notellm-engine, version" in result.stdout


def test_killed_reindex_resumes_and_ends_consistent(tmp_path, notellm_home):
    """SIGKILL in the middle of a reindex, run it again: SQLite and USearch agree, nothing is lost."""
    from conftest import SHARED_DATA
    import shutil

    vault = tmp_path / "til"
    source = SHARED_DATA / "jbranchaud-til" / "git"
    shutil.copytree(source, vault / "git")
    shutil.copy(SHARED_DATA / "jbranchaud-til" / "LICENSE", vault / "LICENSE")
    notes = len(list(vault.rglob("*.md")))
    command = [sys.executable, "-m", "notellm.engine", "reindex", str(vault), "--tokens", "32", "--json"]
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
        ids = {row["id"] for row in index.notes() if row["indexed"]}
        assert len(ids) == notes == len(vectors)
        assert all(note_id in vectors.index for note_id in ids)
        assert index.status().stale == 0


def _embedded(database):
    import sqlite3

    try:
        with sqlite3.connect(database, timeout=5) as connection:
            return connection.execute("select count(*) from notes where embedding is not null").fetchone()[0]
    except sqlite3.Error:
        return 0
