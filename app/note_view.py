"""The centre of the window: the shown note's title and path, Open in editor / Reveal in folder, and its preview."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from notellm.engine.vault import is_note_name

from . import theme
from .layouts import fill
from .notes_model import NoteListModel
from .preview import WIKI_SCHEME, NotePreview
from .session import VaultSession
from .worker import FileWorker


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _gray(text: str) -> str:
    return f"<p style='color:gray'>{text}</p>"


class NoteView(QWidget):
    """Reads notes on the file worker and resolves links through the session: it never waits on the disk."""

    noteShown = Signal(str)  # the note's text is on screen
    openNote = Signal(str)  # a link in the preview leads to this note
    noteAvailable = Signal(bool)  # whether there is a note to open in an editor or reveal
    statusMessage = Signal(str, int)  # text, milliseconds
    failed = Signal(object, str)  # an error, and what was being done

    def __init__(self, notes: NoteListModel, files: FileWorker, parent: QWidget | None = None):
        super().__init__(parent)
        self.notes = notes  # titles, and the notes a link may name
        self.files = files
        self.session: VaultSession | None = None
        self.path: str | None = None

        self.title = QLabel("")
        self.title.setObjectName("noteTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.path_label = QLabel("")
        self.path_label.setObjectName("muted")
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_editor_button = QToolButton()
        self.open_editor_button.setText("Open in editor")
        self.open_editor_button.setToolTip("Open the note in your default Markdown editor (Ctrl+E)")
        self.open_editor_button.clicked.connect(self.open_in_editor)
        self.reveal_button = QToolButton()
        self.reveal_button.setText("Reveal in folder")
        self.reveal_button.setToolTip("Show the note's file in the file manager (Ctrl+Shift+R)")
        self.reveal_button.clicked.connect(self.reveal_in_folder)
        header = QWidget()
        header.setObjectName("noteHeader")
        titles = fill(QVBoxLayout(), self.title, self.path_label, spacing=2)
        fill(QHBoxLayout(header), (titles, 1), self.open_editor_button, self.reveal_button, margins=(24, 12, 16, 10))
        self.preview = NotePreview()
        self.preview.setAccessibleName("Note preview")
        self.preview.linkActivated.connect(self._follow_link)
        fill(QVBoxLayout(self), header, (self.preview, 1), margins=(0, 0, 0, 0), spacing=0)
        self.show_nothing()

    def set_session(self, session: VaultSession) -> None:
        self.session = session
        self.show_nothing()

    def show_nothing(self) -> None:
        self.path = None
        self.title.setText("No note selected")
        self.path_label.setText("Choose a note on the left, or press Ctrl+K to search by meaning.")
        self.preview.show_message("")
        self._set_available(False)

    def show_note(self, path: str) -> None:
        self.path = path
        row = self.notes.note(path)
        self.title.setText(row.title if row is not None and row.title else Path(path).stem)
        self.path_label.setText(path)
        self._set_available(True)
        self.reload()

    def show_gone(self, path: str) -> None:
        self.preview.show_message(_gray(f"{path} was deleted or moved."))

    def _set_available(self, available: bool) -> None:
        self.open_editor_button.setEnabled(available)
        self.reveal_button.setEnabled(available)
        self.noteAvailable.emit(available)

    def set_dark(self, dark: bool) -> None:
        self.preview.document().setDefaultStyleSheet(theme.preview_css(dark))
        self.reload()

    def reload(self) -> None:
        """Read the shown note again; the preview keeps its scroll position."""
        path, session = self.path, self.session
        if path is None or session is None or session.vault is None:
            return
        vault = session.vault

        def done(text: str) -> None:
            if self.path == path and self.session is session:
                scroll = self.preview.verticalScrollBar().value()
                same = self.preview.note_path == path
                self.preview.show_note(vault, path, text)
                if same:
                    self.preview.verticalScrollBar().setValue(scroll)
                self.noteShown.emit(path)

        def failed(error: Exception) -> None:
            if self.path != path:
                return
            if isinstance(error, FileNotFoundError):
                self.show_gone(path)
            else:
                self.preview.show_message(_gray(f"Can't read {path}: {getattr(error, 'strerror', error)}"))

        self.files.submit(lambda: _read_text(vault / path), done, failed)

    # --- links in the preview -------------------------------------------------------------------
    def _follow_link(self, url: QUrl) -> None:
        session, source = self.session, self.path
        if session is None or session.vault is None:
            return
        scheme = url.scheme().lower()
        if scheme == WIKI_SCHEME:
            self._open_by_name(url.path())
            return
        if scheme not in ("", "file"):
            QDesktopServices.openUrl(url)  # web and mail links go to the user's browser / mail app
            return
        base = QUrl.fromLocalFile(str((session.vault / (source or "")).parent) + "/")
        target = Path(base.resolved(url).toLocalFile())

        def found(where: tuple[str | None, bool]) -> None:
            relative, is_file = where
            if self.path != source:
                return  # the reader has moved on
            if relative is None:
                self.statusMessage.emit(f"{url.toString()} is outside the vault", 5000)
            elif is_file and not is_note_name(relative):
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))
            else:
                self._open_by_name(relative)

        session.link_target(target, found, lambda error: self.failed.emit(error, "follow the link"))

    def _open_by_name(self, name: str) -> None:
        local = self.notes.find(name)
        if local is not None:  # the note list already knows it: no need to queue behind the engine
            self.openNote.emit(local)
            return
        self.session.resolve(name, self.openNote.emit,
                             lambda _error: self.statusMessage.emit(f"No note “{name}” in this vault", 6000))

    # --- the note's file --------------------------------------------------------------------------
    def _file(self) -> Path | None:
        if self.session is None or self.session.vault is None or not self.path:
            return None
        return self.session.vault / self.path

    def open_in_editor(self) -> None:
        file = self._file()
        if file is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(file))):
            self.statusMessage.emit("No application is set up to open Markdown files", 6000)

    def reveal_in_folder(self) -> None:
        file = self._file()
        if file is None:
            return
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(file)])
        elif os.name == "nt":
            subprocess.Popen(["explorer", "/select,", str(file)])
        else:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(file.parent)))
