"""One open vault: the engine's `VaultIndex`, its background index run and its file watcher.

`VaultSession` is the app's model of "the vault": it owns the index, hands every engine call to the
single `EngineWorker`, and reports through named Qt signals. Widgets never see the index.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from notellm.engine import NoteRow, ReindexSummary, VaultIndex, describe_model
from notellm.engine.indexer import READER_BATCH_SECONDS
from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS, DEFAULT_TOPIC_COUNT
from notellm.engine.personalize import DEFAULT_STEPS, PersonalizeProgress, PersonalizeResult, personalize
from notellm.engine.watcher import VaultWatcher

from .worker import EngineWorker, TrainingWorker

Callback = Callable[[Any], None]
_SKIP = object()  # a request that became obsolete before its turn came
NOTE_LIST_EVERY_SECONDS = 2.0  # while indexing, the note list is refreshed at most this often
# After stepping aside for the reader, the index resumes once the reader has asked nothing for this long:
# a save's sync and the related notes asked right after it then find the engine free, not busy with
# the resumed run's first chunk.
RESUME_AFTER_QUIET_SECONDS = 0.75
RESUME_WITHIN_SECONDS = 5.0  # but never later than this: a note rewritten every second must not stall the index


@dataclass(frozen=True)
class IndexOptions:
    """How a vault is indexed; changing any of these reopens the index."""

    model: str | None = None  # None: the engine's default model
    exclude: tuple[str, ...] = ()
    content_tokens: int = DEFAULT_CONTENT_TOKENS
    related_count: int = 10
    tag_count: int = DEFAULT_TOPIC_COUNT


@dataclass
class IndexRun:
    """Progress of the background index, across pause/resume."""

    state: str = "idle"  # idle, indexing, pausing, paused, cancelling, cancelled, done, failed
    base: int = 0  # notes embedded by earlier (paused) runs
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    started_done: int = 0  # overall_done when this run (or resume) started

    @property
    def overall_done(self) -> int:
        return self.base + self.done

    @property
    def overall_total(self) -> int:
        return self.base + self.total

    def eta_seconds(self) -> float | None:
        embedded = self.overall_done - self.started_done
        elapsed = time.monotonic() - self.started
        if embedded <= 0 or elapsed <= 0 or self.overall_total <= self.overall_done:
            return None
        return (self.overall_total - self.overall_done) * elapsed / embedded


class VaultSession(QObject):
    opened = Signal(str)  # the vault's resolved path
    failed = Signal(object)  # an exception from opening, indexing or a request without its own handler
    notesChanged = Signal(list)  # rows of index.notes()
    progressChanged = Signal(int, int)  # notes embedded, notes to embed (this whole run)
    stateChanged = Signal(str)  # IndexRun.state
    indexFinished = Signal(object)  # ReindexSummary
    vaultChanged = Signal(object)  # ReindexSummary of files the watcher saw change
    filesChanged = Signal(list)  # vault-relative paths the watcher saw change (before the engine syncs them)
    watchFailed = Signal(str)
    personalizeProgress = Signal(object)  # PersonalizeProgress
    personalizeFinished = Signal(object)  # PersonalizeResult: switched, kept or cancelled
    personalizeFailed = Signal(object)  # an exception

    # emitted from background threads, delivered queued on the GUI thread
    _progressFromWorker = Signal(int, int, object)
    _personalizeProgressFromWorker = Signal(object)
    _watchPaths = Signal(list)
    _watchError = Signal(str)

    def __init__(self, worker: EngineWorker, training: TrainingWorker, vault: str | Path, options: IndexOptions,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self.training = training  # the window's, so that closing a session never waits for a trainer to stop
        self.requested_vault = Path(vault).expanduser()
        self.options = options
        self.rebuild = False  # set before open(): start the index afresh (the damaged one is kept aside)
        self.index: VaultIndex | None = None
        self.vault: Path | None = None
        self.run = IndexRun()
        self._stop = threading.Event()
        self._last_reader_request = float("-inf")  # time.monotonic(); written by _submit (any thread)
        self._closing = threading.Event()
        self._pause_requested = False
        self._watcher: VaultWatcher | None = None
        self.personalizing = False
        self._stop_personalizing = threading.Event()
        self._progressFromWorker.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._watchError.connect(self.watchFailed, Qt.ConnectionType.QueuedConnection)
        self._watchPaths.connect(self._on_watch_paths, Qt.ConnectionType.QueuedConnection)
        self._personalizeProgressFromWorker.connect(self._on_personalize_progress, Qt.ConnectionType.QueuedConnection)

    # --- plumbing ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def _submit(self, fn: Callable[[VaultIndex], Any], on_result: Callback | None = None, on_error: Callback | None = None,
                still_wanted: Callable[[], bool] | None = None, priority: int = EngineWorker.INTERACTIVE) -> None:
        """Queue `fn(index)` on the engine worker; callbacks run on the GUI thread unless the session closed."""

        def job():
            if self._closing.is_set() or self.index is None or (still_wanted is not None and not still_wanted()):
                return _SKIP
            return fn(self.index)

        def done(value):
            if value is not _SKIP and not self.closed and on_result is not None:
                on_result(value)

        def failed(error):
            if self.closed:
                return
            (on_error or self.failed.emit)(error)

        if priority > EngineWorker.INDEX:  # the reader asked: the index takes short batches for a while
            self._last_reader_request = time.monotonic()
        self.worker.submit(job, done, failed, priority)

    # --- open / close ------------------------------------------------------------------------
    def open(self) -> None:
        options = self.options

        def job():
            index = VaultIndex.open(
                self.requested_vault, model=options.model or None, exclude=options.exclude,
                content_tokens=options.content_tokens, rebuild=self.rebuild,
            )
            return index, index.notes()

        def done(result):
            index, notes = result
            if self.closed:
                self.worker.submit(index.close)
                return
            self.index, self.vault = index, index.vault
            self.opened.emit(str(index.vault))
            self.notesChanged.emit(notes)
            self._start_watcher()
            self.reindex()

        self.worker.submit(job, done, self._open_failed, EngineWorker.INTERACTIVE)

    def _open_failed(self, error: Exception) -> None:
        if not self.closed:
            self.failed.emit(error)

    def _start_watcher(self) -> None:
        self._watcher = VaultWatcher(self.vault, self._sync_changed, on_error=self._watch_error)
        try:
            self._watcher.start()
        except OSError as error:  # e.g. inotify limits; the app still works, just without live refresh
            self._watcher = None
            self.watchFailed.emit(f"can't watch {self.vault} for changes ({error}); use View > Refresh")

    def _watch_error(self, message: str) -> None:
        if not self._closing.is_set():
            self._watchError.emit(message)

    def close(self) -> None:
        """Stop indexing and watching and close the index, all on the worker; returns at once."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._stop.set()
        watcher, index = self._watcher, self.index
        self._watcher = None

        def job():
            if watcher is not None:
                watcher.stop()
            if index is not None:
                index.close()

        self.worker.submit(job, priority=EngineWorker.CLOSE)

    # --- indexing ----------------------------------------------------------------------------
    def reindex(self, resume: bool = False) -> None:
        if self.index is None or self.closed or self.run.state in ("indexing", "pausing", "cancelling"):
            return
        base = self.run.overall_done if resume else 0
        self.run = IndexRun(state="indexing", base=base, started_done=base)
        self._stop.clear()
        self._pause_requested = False
        self.stateChanged.emit(self.run.state)
        self._submit(self._reindex_job, self._reindex_done, self._reindex_failed, priority=EngineWorker.INDEX)

    def _reindex_job(self, index: VaultIndex, carry_on: bool = False) -> tuple[ReindexSummary, list[NoteRow] | None]:
        # The model and the vault's terms first (no-ops once loaded): otherwise the first related notes asked
        # during a first index read every term listed so far (1.6 s at 10,000 notes on a busy machine), and a
        # broken model file is reported at once even when the index is current.
        index.warm_up()
        listed_at = float("-inf")  # the first embedded notes show at once

        def progress(done: int, total: int) -> None:
            nonlocal listed_at
            # Same thread as the reindex, so reading the note list here keeps engine calls serial. At
            # 10,000 notes a list costs the engine and the window a fraction of a second (0.07-0.3 s): not
            # every batch, and not while a request waits for the run to step aside (the run's end lists them).
            notes = None
            due = done < total and time.monotonic() - listed_at >= NOTE_LIST_EVERY_SECONDS
            if done and due and not self.worker.urgent_waiting():
                notes, listed_at = index.notes(), time.monotonic()
            self._progressFromWorker.emit(done, total, notes)

        def should_stop() -> bool:
            # Step aside between chunks and batches when the reader asked for something (related notes,
            # search, a link): the run is resubmitted behind that request and carries on (the indexer
            # asks only after each run did some work, so it always gets on).
            return self._stop.is_set() or self.worker.urgent_waiting()

        summary = index.reindex(progress=progress, should_stop=should_stop, batch_seconds=lambda: READER_BATCH_SECONDS,
                                carry_on=carry_on)
        # The run's end carries the note list, so that the window never shows a finished run over an older
        # list (the last listing during the run is skipped while a request waits). A run that only stepped
        # aside lists nothing: the request waiting for it comes first.
        stepped_aside = summary.cancelled and not self._stop.is_set()
        return summary, None if stepped_aside else index.notes()

    @Slot(int, int, object)
    def _on_progress(self, done: int, total: int, notes) -> None:
        if self.closed:
            return
        self.run.done, self.run.total = done, total
        self.progressChanged.emit(self.run.overall_done, self.run.overall_total)
        if notes is not None:
            self.notesChanged.emit(notes)

    def _reindex_done(self, result: tuple[ReindexSummary, list[NoteRow] | None]) -> None:
        summary, notes = result
        if notes is None:  # stepped aside for a request: carry on
            self.run.base += summary.embedded
            self.run.done = self.run.total = 0
            self._resume_when_quiet(time.monotonic())
            return
        if summary.cancelled:
            self.run.state = "paused" if self._pause_requested else "cancelled"
            self.update_links()  # the notes it listed are linked now, not at the next run
        else:
            self.run.state = "done"
        self.notesChanged.emit(notes)
        self.stateChanged.emit(self.run.state)
        self.indexFinished.emit(summary)

    def _resume_when_quiet(self, stepped_aside: float) -> None:
        """Resubmit the index run once the reader has been quiet for RESUME_AFTER_QUIET_SECONDS, and at the
        latest RESUME_WITHIN_SECONDS after it stepped aside (at once when pausing or cancelling, so that the
        run can end)."""
        if self.closed:
            return
        now = time.monotonic()
        wait = min(RESUME_AFTER_QUIET_SECONDS - (now - self._last_reader_request), stepped_aside + RESUME_WITHIN_SECONDS - now)
        if wait > 0 and not self._stop.is_set():
            QTimer.singleShot(int(wait * 1000) + 1, self, lambda: self._resume_when_quiet(stepped_aside))
            return
        # Where it stopped, without a new scan (a save that lands as the run resumes would wait for it), when
        # the watcher synced what changed meanwhile; without a watcher, a full run.
        carry_on = self._watcher is not None
        self._submit(lambda index: self._reindex_job(index, carry_on=carry_on), self._reindex_done, self._reindex_failed,
                     priority=EngineWorker.INDEX)

    def _reindex_failed(self, error: Exception) -> None:
        self.run.state = "failed"
        self.stateChanged.emit(self.run.state)
        self.failed.emit(error)

    def pause(self) -> None:
        if self.run.state == "indexing":
            self._pause_requested = True
            self._stop.set()
            self.run.state = "pausing"
            self.stateChanged.emit(self.run.state)

    def resume(self) -> None:
        if self.run.state in ("paused", "cancelled", "failed"):
            self.reindex(resume=self.run.state == "paused")

    def cancel(self) -> None:
        if self.run.state in ("indexing", "pausing"):
            self._pause_requested = False
            self._stop.set()
            self.run.state = "cancelling"
            self.stateChanged.emit(self.run.state)
        elif self.run.state == "paused":
            self.run.state = "cancelled"
            self.stateChanged.emit(self.run.state)

    def _sync_changed(self, paths: set[str]) -> None:
        """On the watcher's thread: the preview can re-read the files at once, and the engine worker
        syncs them in turn (a locked index gives them back to the watcher, which tries again)."""
        self._watchPaths.emit(sorted(paths))
        # The links table catches up after the reader's next request (update_links, below).
        self._submit(lambda index: index.sync_paths(paths, links=False), self._on_watch_update,
                     lambda error: self._sync_failed(paths, error), priority=EngineWorker.SYNC)

    def _sync_failed(self, paths: set[str], error: Exception) -> None:
        if self._watcher is not None:
            self._watcher.sync_failed(paths, error)

    @Slot(list)
    def _on_watch_paths(self, paths: list) -> None:
        if self.closed or self.index is None:
            return
        self.filesChanged.emit(paths)  # vault-relative already: the watcher computed them

    def _on_watch_update(self, summary: ReindexSummary) -> None:
        if self.closed:
            return
        if self.run.state not in ("indexing", "pausing", "cancelling"):  # a running index redoes them at its end
            self.update_links()
        self.refresh_notes()
        self.vaultChanged.emit(summary)

    def update_links(self) -> None:
        """Resolve the vault's links again if notes changed (behind the reader's requests)."""
        self._submit(lambda index: index.update_links(), priority=EngineWorker.INDEX)

    def refresh_notes(self) -> None:
        self._submit(lambda index: index.notes(), self.notesChanged.emit)

    # --- requests (all asynchronous) -----------------------------------------------------------
    def related(self, path: str, k: int, hide_linked: bool, on_result: Callback, on_error: Callback,
                still_wanted: Callable[[], bool] | None = None) -> None:
        self._submit(lambda index: index.related(path, k=k, hide_linked=hide_linked), on_result, on_error, still_wanted)

    def tags(self, path: str, on_result: Callback, on_error: Callback, still_wanted: Callable[[], bool] | None = None) -> None:
        """(existing tags, suggested tags) for a note; generating suggestions may take a few seconds."""

        def job(index: VaultIndex):
            return index.note(path).tags, index.suggest_tags(path, count=self.options.tag_count)

        self._submit(job, on_result, on_error, still_wanted, EngineWorker.GENERATE)

    def accept_tag(self, path: str, tag: str, on_result: Callback, on_error: Callback | None = None) -> None:
        self._submit(lambda index: index.apply_tags(path, [tag]), on_result, on_error)

    def dismiss_tag(self, path: str, tag: str, on_result: Callback | None = None) -> None:
        self._submit(lambda index: index.dismiss_tag(path, tag), on_result)

    def search(self, query: str, k: int, on_result: Callback, on_error: Callback | None = None) -> None:
        self._submit(lambda index: index.search(query, k=k), on_result, on_error)

    def resolve(self, name: str, on_result: Callback, on_error: Callback) -> None:
        """The vault path of a note named by path, path without suffix, file name, alias or title."""
        self._submit(lambda index: index.note(name).path, on_result, on_error)

    def record_navigation(self, source: str, target: str) -> None:
        self._submit(lambda index: index.record_navigation(source, target))


    # --- personalizing -------------------------------------------------------------------------
    def personalize(self, steps: int = DEFAULT_STEPS) -> None:
        """Fine-tune the model on this vault (`notellm.engine.personalize`) on the training worker; the
        index stays open and keeps answering. Closing the session cancels it."""
        if self.vault is None or self.closed or self.personalizing:
            return
        vault = self.vault
        self.personalizing = True
        self._stop_personalizing.clear()

        def job() -> PersonalizeResult:
            return personalize(vault, steps, on_progress=self._personalizeProgressFromWorker.emit,
                               should_stop=lambda: self._stop_personalizing.is_set() or self._closing.is_set())

        def finished(result: PersonalizeResult) -> None:
            self.personalizing = False
            if not self.closed:
                self.personalizeFinished.emit(result)

        def failed(error: Exception) -> None:
            self.personalizing = False
            if not self.closed:
                self.personalizeFailed.emit(error)

        self.training.submit(job, finished, failed)

    def cancel_personalize(self) -> None:
        """Stop the running stage; the model stays as it was and the next run resumes the training."""
        self._stop_personalizing.set()

    @Slot(object)
    def _on_personalize_progress(self, progress: PersonalizeProgress) -> None:
        if not self.closed:
            self.personalizeProgress.emit(progress)

    def link_target(self, target: Path, on_result: Callback, on_error: Callback | None = None) -> None:
        """Where a link in a note leads: (its vault path, None outside the vault; whether it is a file), found
        on the worker, since resolving it may wait on the disk."""
        self._submit(lambda index: (index.relative_path(target), target.is_file()), on_result, on_error)


def check_model(worker: EngineWorker, path: str, on_result: Callback, on_error: Callback) -> None:
    """Load a GGUF through the engine on the worker; the result says what it is."""

    def job():
        model = describe_model(path or None)
        return f"{model.path.name} loads: {model.dimensions}-dimensional embeddings" + (
            " (NoteLLM-trained head)" if model.trained else " (base model, zero-shot)"
        )

    worker.submit(job, on_result, on_error)
