"""Background tasks: small callables run on a Qt thread pool, results delivered on the GUI thread.

`EngineWorker` owns a pool with exactly one thread, so engine calls never overlap (llama.cpp
contexts are not thread-safe). `FileWorker` is a separate pool for plain file reads, so a preview
never waits behind a long reindex.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from notellm.engine.cpu import lower_this_thread_priority

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]


class _Task(QRunnable):
    def __init__(self, relay: "_Relay", fn: Callable[[], Any], on_result: Callback | None, on_error: Callback | None,
                 on_start: Callable[[], None] | None = None):
        super().__init__()
        self.setAutoDelete(True)
        self.relay, self.fn, self.on_result, self.on_error = relay, fn, on_result, on_error
        self.on_start = on_start

    def run(self) -> None:  # on the pool thread
        if self.on_start is not None:
            self.on_start()
        started = time.perf_counter()
        try:
            value = self.fn()
            log.debug("task %s took %.3f s", getattr(self.fn, "__qualname__", self.fn), time.perf_counter() - started)
        except BaseException as error:  # noqa: BLE001 - every failure goes back to the GUI as a value
            if not isinstance(error, Exception):
                raise
            self.relay.delivered.emit(self.on_error, error, True)
            return
        self.relay.delivered.emit(self.on_result, value, False)


class _Relay(QObject):
    """Lives on the GUI thread; the pool thread emits, Qt queues, the slot runs callbacks here."""

    delivered = Signal(object, object, bool)

    def __init__(self, fallback_error: Callback, parent: QObject | None = None):
        super().__init__(parent)
        self.fallback_error = fallback_error
        self.delivered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(object, object, bool)
    def _deliver(self, callback: Callback | None, value: Any, failed: bool) -> None:
        if callback is None and failed:
            callback = self.fallback_error
        if callback is not None:
            try:
                callback(value)
            except Exception:  # a bug in a GUI callback must not kill the event loop
                log.exception("error in a background task callback")


class Worker(QObject):
    """Run callables on a private thread pool; `submit` never blocks the caller."""

    URGENT_ABOVE = 0  # tasks with a higher priority count as waiting for `urgent_waiting`

    def __init__(self, threads: int, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self.pool.setObjectName(name)
        self._relay = _Relay(self._unhandled, self)
        self._urgent_lock = threading.Lock()
        self._urgent = 0  # queued tasks that outrank indexing

    def urgent_waiting(self) -> bool:
        """Whether a task that should not wait for indexing is queued (read from the pool thread)."""
        return self._urgent > 0

    def _task(self, fn, on_result, on_error, priority: int) -> _Task:
        if priority <= self.URGENT_ABOVE:
            return _Task(self._relay, fn, on_result, on_error)
        with self._urgent_lock:
            self._urgent += 1

        def started():
            with self._urgent_lock:
                self._urgent -= 1

        return _Task(self._relay, fn, on_result, on_error, started)

    def _unhandled(self, error: Exception) -> None:
        log.error("background task failed: %s: %s", type(error).__name__, error)

    def submit(self, fn: Callable[[], Any], on_result: Callback | None = None, on_error: Callback | None = None,
               priority: int = 0) -> None:
        """Queue `fn`; queued tasks with a higher priority run first, equal ones in order."""
        self.pool.start(self._task(fn, on_result, on_error, priority), priority)

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)


class EngineWorker(Worker):
    """The one thread that talks to the engine, so one llama.cpp context computes at a time.

    Priorities keep the window lively behind slow work: closing an index jumps the queue, quick
    lookups (related notes, links, note list) come next, then indexing, and hashtag generation,
    which can take seconds on a busy CPU, goes last. The thread (and llama.cpp's, started from it)
    runs at a lower OS priority than the window and the user's other programs.
    """

    CLOSE, INTERACTIVE, SYNC, INDEX, GENERATE = 100, 20, 10, 0, -10
    URGENT_ABOVE = INDEX

    def __init__(self, parent: QObject | None = None):
        super().__init__(1, "notellm-engine", parent)
        self.pool.setExpiryTimeout(-1)  # keep the same thread for the app's lifetime
        self.submit(_lower_priority, priority=self.CLOSE)


def _lower_priority() -> None:
    # No result goes back: the GUI has nothing to do with it.
    lower_this_thread_priority()


class FileWorker(Worker):
    """Plain file work: note files read for the preview, the sample vault copied; never touches the engine."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(2, "notellm-files", parent)


class TrainingWorker(Worker):
    """Runs a personalization: an hour or so, mostly waiting on trainer subprocesses. It has its own
    thread so the engine worker keeps answering the reader meanwhile."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(1, "notellm-training", parent)
