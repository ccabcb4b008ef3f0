"""The watcher keeps the index current as an editor saves, renames and deletes notes."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from notellm.engine.watcher import VaultWatcher


@pytest.fixture
def watched(garden, open_index):
    index = open_index(garden)
    index.reindex()
    updates, errors = [], []
    changed = threading.Event()

    def on_update(summary):
        updates.append(summary)
        changed.set()

    watcher = VaultWatcher(index, on_update=on_update, on_error=errors.append, debounce=0.2)
    watcher.start()
    yield index, garden, updates, changed
    watcher.stop()
    assert errors == []


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_saved_note_is_queryable_again(watched):
    index, vault, updates, _ = watched
    (vault / "Baking" / "Focaccia.md").write_text("# Focaccia\n\nFlat bread with olive oil, flour, water and yeast.\n")
    assert wait_for(lambda: any("Baking/Focaccia.md" in u.embedded_paths for u in updates))
    assert "Baking/Focaccia.md" in [r.path for r in index.related("Bread", k=6)]


def test_editor_style_save_through_temp_file_and_rename(watched):
    index, vault, updates, _ = watched
    before = index.note("Eigenvalues.md").content_hash
    temp = vault / ".Eigenvalues.md.swp"
    temp.write_text("# Eigenvalues\n\nEigenvectors keep their direction; eigenvalues scale them.\n")
    os.replace(temp, vault / "Eigenvalues.md")
    assert wait_for(lambda: index.note("Eigenvalues.md").content_hash != before)
    assert not any(".swp" in p for u in updates for p in u.embedded_paths)


def test_moves_keep_vectors_and_deletes_are_forgotten(watched):
    index, vault, updates, _ = watched
    vector = index.store.embedding_of(index.note("Baking/Pizza dough.md").id)
    (vault / "Baking" / "Pizza dough.md").rename(vault / "Pizza.md")
    assert wait_for(lambda: any(u.renamed for u in updates))
    assert np.array_equal(index.store.embedding_of(index.note("Pizza.md").id), vector)
    (vault / "Pizza.md").unlink()
    assert wait_for(lambda: any(u.removed for u in updates))
    assert "Pizza.md" not in [row.path for row in index.notes()]


def test_a_whole_folder_moved_away_is_removed(watched):
    index, vault, updates, _ = watched
    (vault / "Baking").rename(vault.parent / "Baking-elsewhere")
    assert wait_for(lambda: not any(row.path.startswith("Baking/") for row in index.notes()))


def test_changes_made_while_another_process_holds_the_lock_are_indexed_once_it_lets_go(garden, open_index):
    index = open_index(garden)
    index.reindex()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from notellm.engine.lock import FileLock; lock = FileLock(sys.argv[1]); "
         "assert lock.acquire(); print('held', flush=True); sys.stdin.read()", str(index.index_dir / "writer.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    updates, errors = [], []
    watcher = VaultWatcher(index, on_update=updates.append, on_error=errors.append, debounce=0.2)
    try:
        assert holder.stdout.readline().strip() == "held"
        watcher.start()
        (garden / "Baking" / "Focaccia.md").write_text("# Focaccia\n\nFlat bread with olive oil, flour, water and yeast.\n")
        assert wait_for(lambda: errors, timeout=60)  # the watcher met the lock (and says it will retry)
        (garden / "Eigenvalues.md").unlink()  # more changes while it waits
        time.sleep(2)
        holder.stdin.close()  # the other process finishes
        holder.wait(timeout=30)
        assert wait_for(lambda: any("Baking/Focaccia.md" in u.embedded_paths for u in updates), timeout=120)
        assert wait_for(lambda: "Eigenvalues.md" not in [row.path for row in index.notes()], timeout=30)
    finally:
        watcher.stop()
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert "another NoteLLM process" in errors[0] and errors[0].endswith("will retry")
    assert "Baking/Focaccia.md" in [r.path for r in index.related("Bread", k=6)]
