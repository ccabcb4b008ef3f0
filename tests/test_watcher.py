"""The watcher keeps the index current as an editor saves, renames and deletes notes."""

import os
import queue
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
    watcher = VaultWatcher(index.vault, lambda paths: updates.append(index.sync_paths(paths)), on_error=errors.append, debounce=0.2)
    watcher.start()
    yield index, garden, updates
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
    index, vault, updates = watched
    (vault / "Baking" / "Focaccia.md").write_text("# Focaccia\n\nFlat bread with olive oil, flour, water and yeast.\n")
    assert wait_for(lambda: any("Baking/Focaccia.md" in u.embedded_paths for u in updates))
    assert "Baking/Focaccia.md" in [r.path for r in index.related("Bread", k=6)]


def test_editor_style_save_through_temp_file_and_rename(watched):
    index, vault, updates = watched
    before = index.note("Eigenvalues.md").content_hash
    temp = vault / ".Eigenvalues.md.swp"
    temp.write_text("# Eigenvalues\n\nEigenvectors keep their direction; eigenvalues scale them.\n")
    os.replace(temp, vault / "Eigenvalues.md")
    assert wait_for(lambda: index.note("Eigenvalues.md").content_hash != before)
    assert not any(".swp" in p for u in updates for p in u.embedded_paths)


def test_renames_keep_vectors_and_deletes_are_forgotten(watched):
    index, vault, updates = watched
    vector = index.store.embedding_of(index.note("Baking/Pizza dough.md").id)
    (vault / "Baking" / "Pizza dough.md").rename(vault / "Baking" / "Pizza.md")  # in its folder, which the model reads
    assert wait_for(lambda: any(u.renamed for u in updates))
    assert np.array_equal(index.store.embedding_of(index.note("Baking/Pizza.md").id), vector)
    (vault / "Baking" / "Pizza.md").unlink()
    assert wait_for(lambda: any(u.removed for u in updates))
    assert "Baking/Pizza.md" not in [row.path for row in index.notes()]


def test_a_whole_folder_moved_away_is_removed(watched):
    index, vault, updates = watched
    (vault / "Baking").rename(vault.parent / "Baking-elsewhere")
    assert wait_for(lambda: not any(row.path.startswith("Baking/") for row in index.notes()))


class WorkerThread:
    """Syncs on a thread of its own, as the app's engine worker does: the watcher's callback only queues
    the paths, and a sync that meets the lock gives them back with `sync_failed`."""

    def __init__(self, index, updates):
        self.index, self.updates, self.jobs = index, updates, queue.Queue()
        self.watcher = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while (paths := self.jobs.get()) is not None:
            try:
                self.updates.append(self.index.sync_paths(paths))
            except Exception as error:
                self.watcher.sync_failed(paths, error)

    def stop(self):
        self.jobs.put(None)
        self.thread.join(timeout=60)


@pytest.mark.parametrize("sync", ["in the callback", "on a worker thread"])
def test_changes_made_while_another_process_holds_the_lock_are_indexed_once_it_lets_go(garden, open_index, sync):
    index = open_index(garden)
    index.reindex()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from notellm.engine.lock import FileLock; lock = FileLock(sys.argv[1]); "
         "assert lock.acquire(); print('held', flush=True); sys.stdin.read()", str(index.index_dir / "writer.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    updates, errors = [], []
    worker = WorkerThread(index, updates) if sync == "on a worker thread" else None
    on_paths = worker.jobs.put if worker else lambda paths: updates.append(index.sync_paths(paths))
    watcher = VaultWatcher(index.vault, on_paths, on_error=errors.append, debounce=0.2)
    if worker:
        worker.watcher = watcher
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
        if worker:
            worker.stop()
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert "another NoteLLM process" in errors[0] and errors[0].endswith("will retry")
    assert len(errors) == 1  # one message for the whole wait, not one per try
    assert "Baking/Focaccia.md" in [r.path for r in index.related("Bread", k=6)]
