"""Notice what changes in a vault while the user edits: watchdog events, debounced and coalesced.

Editors save in many ways (write in place, write a temp file and rename it over, delete and
recreate). Every event only records *which paths* changed; after `debounce` seconds without new
events the set is handed to `on_paths`, whose sync (`VaultIndex.sync_paths`) looks at the files as
they are now. The command line syncs inside `on_paths`; the app hands the set to its engine worker.

A sync that finds the index locked by another process gives its paths back (`on_paths` raises
IndexLockedError, or, when it only handed the batch on as the app does, `sync_failed` is called
later): they are merged with newer changes and handed over again after a backoff of 0.5 s doubling
to 10 s, and one wait for the lock is reported once. Nothing that changed on disk is forgotten.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .errors import IndexLockedError, NoteLLMError
from .indexer import relative_path
from .lock import WRITER_WAIT_SECONDS
from .vault import is_hidden

RETRY_FIRST, RETRY_LONGEST = 0.5, 10.0  # seconds between tries while the index is locked
# A lock met this soon after the last one is the same wait (retries come at most a backoff plus the
# writer's wait for the lock apart; twice that leaves room for a slow sync), so it is not reported again
# and its backoff keeps growing.
SAME_WAIT_SECONDS = 2 * (RETRY_LONGEST + WRITER_WAIT_SECONDS)


class _Collector(FileSystemEventHandler):
    def __init__(self, on_paths: Callable[[set[str]], None]):
        self.on_paths = on_paths

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = {event.src_path}
        if getattr(event, "dest_path", ""):
            paths.add(event.dest_path)
        self.on_paths({p.decode() if isinstance(p, bytes) else p for p in paths})


class VaultWatcher:
    """Hands each settled batch of changed paths to `on_paths`, on the watcher's own thread: vault-relative
    ('/'-separated, computed here once for the app and the index alike), hidden ones left out. Errors are
    reported to `on_error` as one line, and watching goes on."""

    def __init__(self, vault: Path, on_paths: Callable[[set[str]], None], on_error: Callable[[str], None] | None = None,
                 debounce: float = 0.3):
        self.vault = Path(vault)
        self.on_paths = on_paths
        self.on_error = on_error or (lambda message: None)
        self.debounce = debounce
        self._pending: set[str] = set()
        self._events = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._locked_in_a_row = 0  # syncs that found the index locked in this wait
        self._last_locked = float("-inf")  # monotonic time a sync last found the index locked
        self._retry_at = 0.0  # monotonic time before which paths given back wait
        self._observer = Observer()
        self._worker = threading.Thread(target=self._run, name="notellm-watch", daemon=True)

    def start(self) -> None:
        self._observer.schedule(_Collector(self._add), str(self.vault), recursive=True)
        self._observer.start()
        self._worker.start()

    def stop(self) -> None:
        self._observer.stop()
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._observer.join(timeout=5)
        self._worker.join(timeout=30)

    def sync_failed(self, paths: Iterable[str], error: Exception) -> None:
        """Syncing a batch failed (call from any thread). A locked index gives the paths back, to be
        tried again with backoff; any other error is reported, and the next change of a file retries it."""
        if not isinstance(error, IndexLockedError):
            self.on_error(str(error) if isinstance(error, NoteLLMError) else f"{type(error).__name__}: {error}")
            return
        with self._changed:
            self._pending |= set(paths)
            now = time.monotonic()
            if now - self._last_locked > SAME_WAIT_SECONDS:
                self._locked_in_a_row = 0
            self._locked_in_a_row += 1
            self._last_locked = now
            backoff = min(RETRY_LONGEST, RETRY_FIRST * 2 ** (self._locked_in_a_row - 1))
            self._retry_at = now + backoff
            first = self._locked_in_a_row == 1
            self._changed.notify()
        if first:
            self.on_error(f"{error}; will retry")

    def _add(self, paths: set[str]) -> None:
        relevant = {relative for relative in (relative_path(self.vault, p) for p in paths)
                    if relative and not is_hidden(relative)}  # not outside the vault, nor the vault itself
        if relevant:
            with self._changed:
                self._pending |= relevant
                self._events += 1
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._stopping:
                    self._changed.wait()
                # Paths given back wait out their backoff; new events do not cut it short.
                while not self._stopping and time.monotonic() < self._retry_at:
                    self._changed.wait(self._retry_at - time.monotonic())
                if self._stopping:
                    return
                # Coalesce: wait until no event has arrived for `debounce` seconds.
                while True:
                    before = self._events
                    self._changed.wait(self.debounce)
                    if self._stopping:
                        return
                    if self._events == before:
                        break
                paths, self._pending = self._pending, set()
            try:
                self.on_paths(paths)
            except Exception as error:  # keep watching
                self.sync_failed(paths, error)
