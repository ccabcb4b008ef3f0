"""The status bar's permanent parts: the index's progress, and the personalizing of the model.

Each owns the actions that control it (the window puts them in its Index menu) and follows the session.
"""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QProgressBar, QToolButton, QWidget

from notellm.engine import ReindexSummary
from notellm.engine.personalize import DEFAULT_STEPS, INSTALL_HINT, PersonalizeProgress, PersonalizeResult, training_available

from .layouts import fill
from .session import IndexOptions, VaultSession


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f" · about {max(1, round(seconds))} s left"
    return f" · about {round(seconds / 60)} min left"


def _progress_bar(width: int) -> QProgressBar:
    bar = QProgressBar()
    bar.setTextVisible(False)
    bar.setFixedWidth(width)
    return bar


def _button(action: QAction) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    return button


class IndexStatus(QWidget):
    """What the index is doing, how far it got and the time left; Pause/Resume and Cancel."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: VaultSession | None = None
        self.pause_action = QAction("Pause", self)  # "Resume" while paused
        self.pause_action.triggered.connect(self.toggle_pause)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.triggered.connect(self.cancel)
        self.label = QLabel("")
        self.label.setContentsMargins(0, 0, 10, 0)
        self.progress = _progress_bar(180)
        self.progress.setObjectName("indexProgress")
        self.pause_button = _button(self.pause_action)
        self.cancel_button = _button(self.cancel_action)
        fill(QHBoxLayout(self), self.label, self.progress, self.pause_button, self.cancel_button, margins=(0, 0, 0, 0))
        self._show_controls(False)

    def set_session(self, session: VaultSession) -> None:
        self.session = session
        session.progressChanged.connect(self._on_progress)
        session.stateChanged.connect(self._on_state)
        session.indexFinished.connect(self._on_finished)
        self.label.setText(f"Opening {session.requested_vault.name}…")

    def clear(self) -> None:
        self.label.setText("")

    def _show_controls(self, visible: bool, pausable: bool = True) -> None:
        self.progress.setVisible(visible)
        self.pause_button.setVisible(visible and pausable)
        self.cancel_button.setVisible(visible)
        self.pause_action.setEnabled(visible and pausable)
        self.cancel_action.setEnabled(visible)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if self.session.run.state == "indexing":
            self.label.setText(f"Indexing {done} / {total}{_eta(self.session.run.eta_seconds())}")

    def _on_state(self, state: str) -> None:
        run = self.session.run
        if state == "indexing":
            self.progress.setRange(0, 0)  # busy until the first count arrives
            self.label.setText("Reading notes…")
            self.pause_action.setText("Pause")
            self._show_controls(True)
        elif state in ("pausing", "cancelling"):
            self.label.setText("Finishing the current batch…")
            self.pause_action.setEnabled(False)
        elif state == "paused":
            self.label.setText(f"Indexing paused at {run.overall_done} / {run.overall_total}")
            self.pause_action.setText("Resume")
            self.pause_action.setEnabled(True)
        elif state == "cancelled":
            self.label.setText(f"Indexing cancelled: {run.overall_done} of {run.overall_total} new notes indexed")
            self._show_controls(False)
        elif state == "failed":
            self.label.setText("Indexing stopped")
            self._show_controls(False)

    def _on_finished(self, summary: ReindexSummary) -> None:
        if summary.cancelled:
            return
        self._show_controls(False)
        run = self.session.run
        embedded = max(run.overall_done, summary.embedded)  # the run may have stepped aside and resumed
        if embedded:
            text = f"Indexed {embedded} note{'s' * (embedded != 1)} in {time.monotonic() - run.started:.1f} s"
        else:
            text = "Index up to date"
        extra = [f"{summary.removed} removed"] * bool(summary.removed) + [f"{summary.skipped} skipped"] * bool(summary.skipped)
        self.label.setText(" · ".join([text, *extra]))
        if summary.ranking:  # chosen again by this run from the vault's links (engine/fusion_weight.py)
            self.label.setToolTip(f"Related notes: {summary.ranking}")

    def toggle_pause(self) -> None:
        if self.session is None:
            return
        if self.session.run.state == "paused":
            self.session.resume()
        else:
            self.session.pause()

    def cancel(self) -> None:
        if self.session is not None:
            self.session.cancel()


class PersonalizeStatus(QWidget):
    """Index › Personalize Model…: asks first, then shows the run's progress and a Cancel button until it ends."""

    switchModel = Signal(str, object)  # vault, IndexOptions: the personal model won, reopen the vault with it
    statusMessage = Signal(str, int)  # text, milliseconds
    failed = Signal(object, str)  # an error, and what was being done

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: VaultSession | None = None
        self.action = QAction("P&ersonalize Model…", self)
        self.action.triggered.connect(self.confirm)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setToolTip("Stop personalizing; the model stays as it is, and starting again resumes")
        self.cancel_action.triggered.connect(self.cancel)
        self.label = QLabel("")
        self.label.setContentsMargins(10, 0, 10, 0)
        self.progress = _progress_bar(120)
        self.cancel_button = _button(self.cancel_action)
        fill(QHBoxLayout(self), self.label, self.progress, self.cancel_button, margins=(0, 0, 0, 0))
        self._show_run(False)
        self.update_action()

    def set_session(self, session: VaultSession) -> None:
        """Closing the previous session stopped its personalizing."""
        self.session = session
        session.opened.connect(self.update_action)
        session.personalizeProgress.connect(self._on_progress)
        session.personalizeFinished.connect(self._on_finished)
        session.personalizeFailed.connect(self._on_failed)
        self._show_run(False)
        self.update_action()

    def _opened(self) -> bool:
        return self.session is not None and self.session.vault is not None

    def _show_run(self, visible: bool) -> None:
        self.setVisible(visible)
        self.cancel_action.setEnabled(visible)

    def update_action(self) -> None:
        """Enabled with an open vault and the training extra installed, while no run is going; the tooltip says why not."""
        opened = self._opened()
        busy = opened and self.session.personalizing
        available = training_available()
        if not available:
            tip = f"Needs NoteLLM's training extra: {INSTALL_HINT}"
        elif not opened:
            tip = "Open a vault to personalize the model for it"
        elif busy:
            tip = "Personalizing this vault's model now"
        else:
            tip = "Fine-tune the model on this vault's links; it is kept only if related notes find held-out links better with it"
        self.action.setEnabled(available and opened and not busy)
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)

    def confirm(self) -> None:
        if not self._opened():
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Personalize the model",
                          f"Fine-tune the model on {self.session.vault.name}?", QMessageBox.StandardButton.NoButton, self.window())
        box.setInformativeText(
            "It learns from the vault's links and from your moves between related notes, then both models rank "
            "links it held back; the personal model is used only if it ranks them better. Training takes about "
            f"6-7 s per step on a 2-core CPU, about 20 minutes for {DEFAULT_STEPS} steps. You can keep reading meanwhile; "
            "if you cancel, the next run resumes where this one stopped."
        )
        start = box.addButton("Personalize", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self.start() if button is start else None)
        box.open()

    def start(self, steps: int = DEFAULT_STEPS) -> None:
        if not self._opened() or self.session.personalizing:
            return
        self.session.personalize(steps)
        self._show_run(True)
        self._on_progress(PersonalizeProgress("prepare", 0, 1))
        self.update_action()

    def cancel(self) -> None:
        if self.session is not None and self.session.personalizing:
            self.session.cancel_personalize()
            self.label.setText("Stopping personalizing…")
            self.cancel_action.setEnabled(False)

    def _on_progress(self, progress: PersonalizeProgress) -> None:
        if not self.cancel_action.isEnabled():
            return  # stopping: "Stopping…" stays until the run has ended
        self.label.setText(progress.describe())
        if progress.stage in ("prepare", "export") or (progress.stage == "train" and not progress.done):
            self.progress.setRange(0, 0)  # busy: no steps to count
        else:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)

    def _on_finished(self, result: PersonalizeResult) -> None:
        self._show_run(False)
        self.update_action()
        if result.outcome == "cancelled":
            self.statusMessage.emit("Personalizing cancelled; the model is unchanged. Starting again resumes the training.", 10000)
            return
        before, after = result.previous_scores, result.personal_scores
        scores = (f"related notes found {before.recall_at_10:.0%} → {after.recall_at_10:.0%} of {after.queries} held-out "
                  f"links in their first 10, MRR {before.mrr:.2f} → {after.mrr:.2f}")
        if result.switched:
            summary = f"The personal model is better ({scores}); re-indexing the vault with it."
        else:
            summary = f"Kept the current model: the personal one was not better ({scores})."
        self.statusMessage.emit(summary, 15000)
        box = QMessageBox(QMessageBox.Icon.Information, "Personalize the model", summary, QMessageBox.StandardButton.Ok,
                          self.window())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        if result.switched:
            options: IndexOptions = self.session.options
            if options.model:  # a model file chosen in Settings would override the vault's remembered personal model
                options = replace(options, model=result.model)
                box.setInformativeText("Settings name one model file for every vault; clear it there to keep using "
                                       "this vault's personal model after a restart.")
            self.switchModel.emit(result.vault, options)

    def _on_failed(self, error: Exception) -> None:
        self._show_run(False)
        self.update_action()
        self.failed.emit(error, "personalize the model")
