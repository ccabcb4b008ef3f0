"""What a hostile or unlucky disk can do to a vault and its index, and why none of it takes the index
down: file names that are not UTF-8, a kill during a model switch, a model other than the index's,
overwritten bytes in the USearch file, and notes deleted while `watch` catches up. Real files, SQLite,
USearch, llama.cpp and processes; each test is named in docs/guarantees.md."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ENGINE, write_notes
from notellm.engine import NoteNotFoundError
from notellm.engine.cli import cli
from notellm.engine.watcher import VaultWatcher
NOT_UTF8 = b"bad-\xff\xfe.md"  # Latin-1 bytes, as in an old archive: no UTF-8 decoder takes them


def engine(*args: str | bytes | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """`notellm-engine` in its own process, arguments passed as the bytes a shell would pass."""
    return subprocess.run([*ENGINE, *(os.fsencode(a) if isinstance(a, Path) else a for a in args)],
                          capture_output=True, timeout=timeout)


def strict_json(output: bytes):
    """JSON as a strict parser reads it: UTF-8, and no NaN or Infinity."""
    return json.loads(output.decode("utf-8"), parse_constant=lambda constant: pytest.fail(f"{constant} in JSON output"))


def lines_of(stream, into: queue.Queue) -> threading.Thread:
    thread = threading.Thread(target=lambda: [into.put(line) for line in iter(stream.readline, b"")], daemon=True)
    thread.start()
    return thread


def next_line(lines: queue.Queue, matching: str, timeout: float = 300) -> bytes | None:
    """The next line that matches, or None when none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if re.search(matching.encode(), line):
            return line
    return None


# --- 1. file names that are not UTF-8 ------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_indexed_under_its_own_bytes(garden):
    vault = os.fsencode(garden)
    with open(vault + b"/" + NOT_UTF8, "wb") as handle:
        handle.write(b"# Old bread notes\n\nFlour, water, salt and a starter make a sourdough loaf.\n")
    os.mkdir(vault + b"/caf\xe9")  # a folder named in Latin-1 too
    with open(vault + b"/caf\xe9/Espresso.md", "wb") as handle:
        handle.write(b"# Espresso\n\nFinely ground coffee, hot water pressed through it.\n")

    first = engine("reindex", garden, "--tokens", "32", "--json", "-q")
    assert first.returncode == 0, first.stderr.decode(errors="replace")
    assert strict_json(first.stdout)["embedded"] == 8

    status = strict_json(engine("status", garden, "--json").stdout)
    assert (status["indexed"], status["stale"], status["skipped"]) == (8, 0, [])

    # The name round-trips: asked by its bytes, shown as JSON, and read back to the very same bytes.
    own = engine("related", garden, NOT_UTF8, "-k", "7", "--json")
    assert own.returncode == 0, own.stderr
    assert len(strict_json(own.stdout)) == 7
    bread = strict_json(engine("related", garden, "Baking/Bread.md", "-k", "7", "--json").stdout)
    named = {os.fsencode(hit["path"]) for hit in bread}
    assert {NOT_UTF8, b"caf\xe9/Espresso.md"} <= named
    assert {hit["folder"] for hit in bread if hit["path"].endswith("Espresso.md")} == {"caf\\xe9"}  # shown readable
    assert engine("related", garden, "Baking/Bread.md", "-k", "7").returncode == 0  # plain text too

    rebuilt = engine("reindex", garden, "--rebuild", "--json", "-q")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert strict_json(rebuilt.stdout)["embedded"] == 8

    watch = subprocess.Popen([*ENGINE, "watch", os.fsencode(garden), "--json", "--debounce", "0.2"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        errors: queue.Queue = queue.Queue()
        synced: queue.Queue = queue.Queue()
        lines_of(watch.stderr, errors)
        lines_of(watch.stdout, synced)
        assert next_line(errors, "watching")  # printed just before the watcher starts: save until a sync is seen
        line = None
        for attempt in range(30):
            with open(vault + b"/new-\xe9t\xe9.md", "wb") as handle:
                handle.write(b"# Summer\n\nNotes on a hot summer and cold drinks, take %d.\n" % attempt)
            line = next_line(synced, '"embedded": 1', timeout=5)
            if line:
                break
        assert line and strict_json(line)["embedded_paths"] == [os.fsdecode(b"new-\xe9t\xe9.md")]
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(timeout=60)
    assert watch.returncode == 0
    assert not [line for line in list(errors.queue) if line.startswith(b"error")]


# --- 2. a kill during a model switch, and 5. one rule for a model other than the index's ------------------


def _vector_widths(notellm_home: Path) -> set[int]:
    database = next(notellm_home.glob("vaults/*/index.db"))
    with sqlite3.connect(database) as connection:
        return {row[0] // 4 for row in connection.execute("select distinct length(embedding) from notes where embedding is not null")}


def test_a_model_switch_killed_midway_leaves_the_old_vectors_in_use_and_resumes(tmp_path, notellm_home, model_path,
                                                                             shipped_model):
    topics = ["bread and flour", "linear algebra", "garden roses", "sailing boats", "coffee beans"]
    notes = {f"note{i:02d}.md": f"# Note {i}\n\nAbout {topics[i % 5]}, part {i}: more on {topics[i % 5]}.\n" for i in range(40)}
    vault = write_notes(tmp_path / "V", notes)
    first = engine("reindex", vault, "--model", shipped_model, "--tokens", "32", "--json", "-q")
    assert first.returncode == 0, first.stderr
    (old_width,) = _vector_widths(notellm_home)

    progress = tmp_path / "progress.txt"
    with open(progress, "wb") as stderr:
        switch = subprocess.Popen([*ENGINE, "reindex", os.fsencode(vault), "--model", os.fsencode(model_path), "--json"],
                                  stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 300
        done = 0
        while time.monotonic() < deadline and done < 4 and switch.poll() is None:
            counts = re.findall(rb"(\d+)/40", progress.read_bytes())  # tqdm's bar: shown once a batch is committed
            done = int(counts[-1]) if counts else 0
            time.sleep(0.02)
        switch.send_signal(signal.SIGKILL)
        switch.wait()
    assert 4 <= done < 40, f"killed after {done} of 40 notes"

    # Readers see the index as before the switch: every note, by the old model, one width.
    assert _vector_widths(notellm_home) == {old_width}
    status = engine("status", vault, "--json")
    assert status.returncode == 0, status.stderr
    assert (strict_json(status.stdout)["indexed"], strict_json(status.stdout)["stale"]) == (40, 0)
    related = engine("related", vault, "note00.md", "--json")
    assert related.returncode == 0 and len(strict_json(related.stdout)) == 10
    assert engine("search", vault, "bread", "--json").returncode == 0

    # The new model is refused by readers until the switch is done, with one line that says how.
    refused = engine("related", vault, "note00.md", "--model", model_path)
    assert refused.returncode == 1
    assert b"reindex" in refused.stderr and b"--model" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    resumed = engine("reindex", vault, "--model", model_path, "--json", "-q")
    assert resumed.returncode == 0, resumed.stderr
    summary = strict_json(resumed.stdout)
    assert summary["embedded"] + summary["unchanged"] == 40
    assert summary["embedded"] <= 40 - done + 8  # the vectors made before the kill were kept
    assert _vector_widths(notellm_home) != {old_width} and len(_vector_widths(notellm_home)) == 1
    assert len(strict_json(engine("related", vault, "note00.md", "--json").stdout)) == 10


def test_read_commands_refuse_a_model_other_than_the_index_s(garden, tmp_path, model_path, shipped_model):
    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    assert run("reindex", garden, "--model", shipped_model, "--tokens", "32", "-q").exit_code == 0
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("just some notes\n")
    for other in (model_path, not_a_model):
        for command in (["related", garden, "Bread"], ["search", garden, "bread"], ["status", garden], ["tags", garden, "Bread"]):
            result = run(*command, "--model", other)
            assert result.exit_code == 1, (command, other, result.output)
            message = result.output.strip().splitlines()
            assert len(message) == 1 and f"reindex {garden} --model {other}" in message[0], message
    for command in (["related", garden, "Bread"], ["search", garden, "bread"], ["status", garden]):
        assert run(*command, "--model", shipped_model).exit_code == 0  # the index's own model, named or not
        assert run(*command).exit_code == 0


# --- 6. overwritten bytes in the USearch file ------------------------------------------------------------


def test_overwritten_bytes_in_the_usearch_file_are_caught_and_the_file_rebuilt(garden, notellm_home):
    assert engine("reindex", garden, "--tokens", "32", "-q").returncode == 0
    before = strict_json(engine("related", garden, "Baking/Bread.md", "--json").stdout)
    usearch_file = next(notellm_home.glob("vaults/*/vectors.usearch"))
    saved = usearch_file.read_bytes()
    damaged = bytearray(saved)
    third = len(saved) // 3
    damaged[third:2 * third] = np.random.default_rng(6).integers(0, 256, third, dtype=np.uint8).tobytes()
    usearch_file.write_bytes(bytes(damaged))  # same size, random bytes in the middle

    after = engine("related", garden, "Baking/Bread.md", "--json")
    assert after.returncode == 0, after.stderr
    assert strict_json(after.stdout) == before

    assert engine("reindex", garden, "-q").returncode == 0  # the writer saves the file rebuilt from SQLite
    assert usearch_file.read_bytes() != bytes(damaged)
    assert strict_json(engine("related", garden, "Baking/Bread.md", "--json").stdout) == before


# --- 8. deleted notes while `watch` catches up -------------------------------------------------------------


def test_notes_deleted_under_the_watcher_leave_related_notes_before_the_batch_is_embedded(tmp_path, open_index):
    """A `git checkout` under the watcher: 10 notes deleted, 10 added and 20 edited within a second."""
    topics = ["bread and flour", "linear algebra", "garden roses", "sailing boats"]
    vault = write_notes(tmp_path / "V", {f"n{i:02d}.md": f"# N{i}\n\nOn {topics[i % 4]}, note {i}.\n" for i in range(30)})
    index = open_index(vault)
    index.reindex()
    reader = open_index(vault)  # another reader of the same index, as the app's related panel or another process
    deleted = [f"n{i:02d}.md" for i in range(10)]
    seen: list[tuple[int, list[str], bool]] = []  # (notes about to be embedded, related paths, deleted note still answers)

    def before_embedding(done: int, total: int) -> None:
        if done == 0 and total:
            paths = [hit.path for hit in reader.related("n29.md", k=40)]
            try:
                reader.related(deleted[0])
                answers = True
            except NoteNotFoundError:
                answers = False
            seen.append((total, paths, answers))

    updates, errors = [], []
    watcher = VaultWatcher(vault, lambda paths: updates.append(index.sync_paths(paths, progress=before_embedding)),
                           on_error=errors.append, debounce=0.3)
    watcher.start()
    try:
        for name in deleted:
            (vault / name).unlink()
        for i in range(30, 40):
            (vault / f"n{i:02d}.md").write_text(f"# N{i}\n\nNew, on {topics[i % 4]}, note {i}.\n")
        for i in range(10, 30):
            (vault / f"n{i:02d}.md").write_text(f"# N{i}\n\nEdited, on {topics[i % 4]}, note {i}.\n")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and sum(u.embedded for u in updates) < 30:
            time.sleep(0.1)
    finally:
        watcher.stop()
    assert errors == [] and sum(u.removed for u in updates) == 10 and sum(u.embedded for u in updates) == 30
    assert seen
    for total, paths, answers in seen:
        assert not set(deleted) & set(paths), f"deleted notes related while {total} notes waited to be embedded"
        assert not answers


def test_an_index_left_with_two_widths_by_an_older_version_says_so_and_a_plain_reindex_mends_it(garden, open_index):
    """What a kill mid-switch left before switch vectors: some vectors of another model and width."""
    index = open_index(garden)
    index.reindex()
    store = index.store
    other = store.note("Eigenvalues.md")
    store.db.execute("update notes set embedding = ?, embedded_with = 'another-model:p1:t48' where id = ?",
                     [np.ones(576, dtype=np.float32).tobytes(), other.id])
    store.db.execute("delete from meta where key in ('embedder', 'embedder_model')")
    store.set_meta("dimensions", "576")  # the older version recorded the new width at its first batch
    store.set_meta("vectors_generation", str(int(store.get_meta("vectors_generation")) + 1))
    index.close()

    reader = open_index(garden)
    with pytest.raises(NoteNotFoundError, match="two models.*reindex"):
        reader.related("Bread")
    assert reader.reindex().embedded == 1
    assert len(reader.related("Bread", k=5)) == 5
