"""Keep an index current while the user edits: watchdog events, debounced and coalesced.

Editors save in many ways (write in place, write a temp file and rename it over, delete and
recreate). Every event only records *which paths* changed; after `debounce` seconds without new
events the set is handed to `VaultIndex.sync_paths`, which looks at the files as they are now.
While another process holds the index's lock, the paths stay queued and are retried with backoff
(0.5 s doubling to 10 s): nothing that changed on disk is forgotten.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .errors import IndexLockedError, NoteLLMError

RETRY_FIRST, RETRY_LONGEST = 0.5, 10.0  # seconds between tries while the index is locked


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
    def __init__(self, index, on_update=None, on_error=None, debounce: float = 0.3):
        self.index = index
        self.on_update = on_update or (lambda summary: None)
        self.on_error = on_error or (lambda message: None)
        self.debounce = debounce
        self._pending: set[str] = set()
        self._events = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._retry_after = 0.0  # > 0 while queued paths wait for a locked index
        self._observer = Observer()
        self._worker = threading.Thread(target=self._run, name="notellm-watch", daemon=True)

    def start(self) -> None:
        self._observer.schedule(_Collector(self._add), str(self.index.vault), recursive=True)
        self._observer.start()
        self._worker.start()

    def stop(self) -> None:
        self._observer.stop()
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._observer.join(timeout=5)
        self._worker.join(timeout=30)

    def _add(self, paths: set[str]) -> None:
        relevant = {p for p in paths if self._relevant(p)}
        if relevant:
            with self._changed:
                self._pending |= relevant
                self._events += 1
                self._changed.notify()

    def _relevant(self, path: str) -> bool:
        relative = self.index.relative_path(path)
        if relative is None or relative == "":
            return False
        return not any(part.startswith(".") for part in Path(relative).parts)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                deadline = time.monotonic() + self._retry_after  # new events do not cut a backoff short
                while self._retry_after and not self._stopping and time.monotonic() < deadline:
                    self._changed.wait(deadline - time.monotonic())
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
                summary = self.index.sync_paths(paths)
            except IndexLockedError as error:
                with self._changed:
                    self._pending |= paths  # kept, with whatever arrived meanwhile; tried again later
                    retrying = self._retry_after == 0.0
                    self._retry_after = min(RETRY_LONGEST, max(RETRY_FIRST, self._retry_after * 2))
                if retrying:
                    self.on_error(f"{error}; will retry")
                continue
            except NoteLLMError as error:
                self._retry_after = 0.0
                self.on_error(str(error))
                continue
            except Exception as error:  # keep watching; the next save retries
                self._retry_after = 0.0
                self.on_error(f"{type(error).__name__}: {error}")
                continue
            self._retry_after = 0.0
            try:
                self.on_update(summary)
            except NoteLLMError as error:
                self.on_error(str(error))
            except Exception as error:  # keep watching; the next save retries
                self.on_error(f"{type(error).__name__}: {error}")
