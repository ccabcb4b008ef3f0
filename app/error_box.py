"""Errors as readable, non-blocking messages with a way forward (`errors.explain`), one at a time."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMainWindow, QMessageBox

from .errors import explain


class ErrorBox(QObject):
    wayForward = Signal(str)  # the button the reader chose: errors.OPEN_FOLDER, OPEN_SETTINGS, RETRY or REBUILD

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self._window = window
        self.box: QMessageBox | None = None  # the message on screen

    def show(self, error: BaseException, doing: str = "") -> None:
        problem = explain(error, doing)
        if self.box is not None:
            self.box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, problem.title, problem.text, QMessageBox.StandardButton.NoButton,
                          self._window)
        box.setInformativeText(problem.detail)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        ways = {box.addButton(label, QMessageBox.ButtonRole.ActionRole): way for label, way in problem.actions}
        box.addButton(QMessageBox.StandardButton.Close)
        box.buttonClicked.connect(lambda button: self._chosen(ways.get(button)))
        box.finished.connect(lambda _: self._closed(box))
        self.box = box
        self._window.statusBar().showMessage(problem.title, 8000)
        box.open()

    def _chosen(self, way: str | None) -> None:
        if way is not None:
            QTimer.singleShot(0, lambda: self.wayForward.emit(way))  # once the box has closed

    def _closed(self, box: QMessageBox) -> None:
        if self.box is box:
            self.box = None
