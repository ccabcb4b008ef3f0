"""The panel beside the preview: related notes and hashtag suggestions for the selected note."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QSpinBox, QToolButton, QVBoxLayout, QWidget

from notellm.engine import NoteNotFoundError, RelatedNote

from .flow_layout import flow_container
from .layouts import fill
from .note_cards import Card, CardList, label
from .session import VaultSession

ACCEPT_CAPTION = "✓ writes the tag into the note's frontmatter; ✕ stops suggesting it here."
NO_SUGGESTION = "No hashtag to suggest for this note."


class RelatedPanel(QWidget):
    navigate = Signal(str)  # vault path of the related note the user chose
    optionsChanged = Signal(bool, int)  # hide linked, how many

    def __init__(self, count: int = 10, hide_linked: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        header = QHBoxLayout()
        header.addWidget(label("Related notes", "sectionTitle"))
        header.addStretch(1)
        self.hide_linked = QCheckBox("Hide &linked")
        self.hide_linked.setChecked(hide_linked)
        self.hide_linked.setToolTip("Leave out notes this one already links to or from")
        self.count = QSpinBox()
        self.count.setRange(1, 50)
        self.count.setValue(count)
        self.count.setToolTip("How many related notes to show")
        self.count.setAccessibleName("Related notes shown")
        header.addWidget(self.hide_linked)
        header.addWidget(self.count)
        self.list = CardList("relatedList", "Related notes")
        self.list.chosen.connect(self.navigate)
        self.message = label("", "placeholder", wrap=True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.message)
        layout.addWidget(self.list, 1)
        self.hide_linked.toggled.connect(self._options_changed)
        self.count.valueChanged.connect(self._options_changed)
        self.set_message("Select a note to see the notes related to it.")

    def _options_changed(self, *_):
        self.optionsChanged.emit(self.hide_linked.isChecked(), self.count.value())

    def set_message(self, text: str) -> None:
        self.list.clear()
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def set_results(self, notes: list[RelatedNote]) -> None:
        self.list.clear()
        if not notes:
            self.set_message("No related notes yet." if not self.hide_linked.isChecked() else "Every related note is already linked.")
            return
        self.message.hide()
        self.list.set_cards([Card(n.path, n.title, n.folder, n.score, n.reason, n.linked) for n in notes])

    def paths(self) -> list[str]:
        return self.list.paths()


class TagChip(QFrame):
    accepted = Signal(str)
    dismissed = Signal(str)

    def __init__(self, tag: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.tag = tag
        self.setObjectName("chip")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(label(f"#{tag}", "chipText"))
        self.accept_button = self._button("✓", "chipAccept", f"Add #{tag}: writes it into this note's frontmatter (its tags)",
                                          f"Add tag {tag}", self.accepted)
        self.dismiss_button = self._button("✕", "chipDismiss", f"Dismiss #{tag}; it won't be suggested for this note again",
                                           f"Dismiss tag {tag}", self.dismissed)
        layout.addWidget(self.accept_button)
        layout.addWidget(self.dismiss_button)

    def _button(self, text: str, name: str, tip: str, accessible_name: str, signal) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.setAccessibleName(accessible_name)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        button.clicked.connect(lambda: signal.emit(self.tag))
        return button

    def set_busy(self, busy: bool) -> None:
        self.accept_button.setEnabled(not busy)
        self.dismiss_button.setEnabled(not busy)


class TagPanel(QWidget):
    accepted = Signal(str)
    dismissed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = label("", "muted", wrap=True)
        self.caption = label(ACCEPT_CAPTION, "hint", wrap=True)
        self.suggested_box, self.suggested = flow_container()
        self.existing_box, self.existing = flow_container()
        self.existing_title = label("In this note", "subTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(label("Suggested hashtags", "sectionTitle"))
        layout.addWidget(self.status)
        layout.addWidget(self.caption)
        layout.addWidget(self.suggested_box)
        layout.addWidget(self.existing_title)
        layout.addWidget(self.existing_box)
        self.clear("")

    def clear(self, status: str) -> None:
        self.suggested.clear()
        self.existing.clear()
        self.existing_title.hide()
        self.caption.hide()
        self.status.setText(status)
        self.status.setVisible(bool(status))

    def set_tags(self, existing: list[str], suggested: list[str]) -> None:
        self.suggested.clear()
        self.existing.clear()
        for tag in suggested:
            chip = TagChip(tag)
            chip.accepted.connect(self._accept)
            chip.dismissed.connect(self._dismiss)
            self.suggested.addWidget(chip)
        for tag in existing:
            self.existing.addWidget(label(f"#{tag}", "existingTag"))
        self.existing_title.setVisible(bool(existing))
        self.caption.setVisible(bool(suggested))
        self.status.setText("" if suggested else NO_SUGGESTION)
        self.status.setVisible(not suggested)
        self.suggested_box.updateGeometry()
        self.existing_box.updateGeometry()

    def mark_accepted(self, tag: str) -> None:
        """The tag is in the note now: its chip moves to the note's own tags."""
        self._remove_chip(tag)
        self.set_busy(False)
        if tag not in self.existing_tags():
            self.existing.addWidget(label(f"#{tag}", "existingTag"))
        self.existing_title.show()
        self.existing_box.updateGeometry()

    def set_busy(self, busy: bool) -> None:
        for chip in self.chips():
            chip.set_busy(busy)

    def chips(self) -> list[TagChip]:
        return [w for w in self.suggested.widgets() if isinstance(w, TagChip)]

    def existing_tags(self) -> list[str]:
        return [w.text().lstrip("#") for w in self.existing.widgets()]

    def _accept(self, tag: str) -> None:
        for chip in self.chips():
            chip.set_busy(True)
        self.accepted.emit(tag)

    def _dismiss(self, tag: str) -> None:
        self._remove_chip(tag)
        self.dismissed.emit(tag)

    def _remove_chip(self, tag: str) -> None:
        for chip in self.chips():
            if chip.tag == tag:
                self.suggested.removeWidget(chip)
                chip.hide()
                chip.deleteLater()
        if not self.chips():
            self.caption.hide()
            self.status.setText(NO_SUGGESTION)
            self.status.show()


class SidePanel(QWidget):
    """Related notes and hashtag suggestions for the note on screen, asked of the session in the background."""

    navigate = Signal(str)  # the reader chose this related note
    relatedShown = Signal(str)
    tagsShown = Signal(str)
    noteEdited = Signal(str)  # a hashtag was written (or failed to be) into this note: its preview should read it again
    statusMessage = Signal(str, int)  # text, milliseconds
    failed = Signal(object, str)  # an error, and what was being done

    def __init__(self, related_count: int, hide_linked: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sidePane")
        self.session: VaultSession | None = None
        self.path: str | None = None  # the note on screen
        self._waiting_for_index: list[Callable[[], None]] = []  # what to ask again once the shown note is indexed
        self._own_write: str | None = None  # a note this app just wrote (accepted hashtag)
        self.related = RelatedPanel(count=related_count, hide_linked=hide_linked)
        self.related.navigate.connect(self.navigate)
        self.related.optionsChanged.connect(self._load_related)
        self.tags = TagPanel()
        self.tags.accepted.connect(self.accept_tag)
        self.tags.dismissed.connect(self.dismiss_tag)
        self._tags_timer = QTimer(self)  # hashtags are generated only for a note the reader stays on
        self._tags_timer.setSingleShot(True)
        self._tags_timer.setInterval(350)
        self._tags_timer.timeout.connect(self._request_tags)
        fill(QVBoxLayout(self), (self.related, 3), self.tags, margins=(14, 12, 14, 12), spacing=14)

    def set_session(self, session: VaultSession) -> None:
        self.session = session
        self.show_nothing()

    def show_nothing(self) -> None:
        self.path = None
        self.clear("Select a note to see the notes related to it.")

    def clear(self, related_message: str = "") -> None:
        self._tags_timer.stop()
        self._waiting_for_index = []
        self.related.set_message(related_message)
        self.tags.clear("")

    def show_note(self, path: str) -> None:
        self.path = path
        self._waiting_for_index = []  # they were about the note shown before
        self._load_related()
        self._load_tags()

    def note_synced(self) -> None:
        """The engine has synced the shown note after a change on disk: ask again, except for hashtags
        after the app's own save (the chips are already right)."""
        if self._own_write == self.path:
            self._own_write = None
            self._load_related()
        else:
            self._own_write = None
            self.show_note(self.path)

    def related_changed(self) -> None:
        """A note the panel lists changed or went: ask for the related notes again (the hashtags stay)."""
        self._load_related()

    def retry_waiting(self) -> None:
        """The index has caught up with the shown note: ask again what it could not answer before."""
        waiting, self._waiting_for_index = self._waiting_for_index, []
        for ask in waiting:
            ask()

    # --- requests ---------------------------------------------------------------------------------
    def _answers(self, ask_again: Callable[[], None], show: Callable[[str, Any], None], say: Callable[[str], None],
                 not_indexed: str, unavailable: str, doing: str):
        """The callbacks of a request about the shown note: its answer is shown only while the note is; a
        note the index doesn't know yet is asked about again (`ask_again`) once the index has it."""
        path = self.path

        def done(answer) -> None:
            if self.path == path:
                show(path, answer)

        def failed(error: Exception) -> None:
            if self.path != path:
                return
            if isinstance(error, NoteNotFoundError):
                if ask_again not in self._waiting_for_index:
                    self._waiting_for_index.append(ask_again)
                say(not_indexed)
            else:
                say(unavailable)
                self.failed.emit(error, doing)

        return done, failed, lambda: self.path == path

    def _load_related(self) -> None:
        if not self.path or self.session is None:
            return
        self.related.set_message("Finding related notes…")
        answers = self._answers(self._load_related, self._show_related, self.related.set_message,
                                "This note isn't indexed yet; its related notes appear as soon as it is.",
                                "Related notes are unavailable.", "find related notes")
        self.session.related(self.path, self.related.count.value(), self.related.hide_linked.isChecked(), *answers)

    def _show_related(self, path: str, notes: list[RelatedNote]) -> None:
        self.related.set_results(notes)
        self.relatedShown.emit(path)

    def _load_tags(self) -> None:
        if self.path and self.session is not None:
            self.tags.clear("Thinking of hashtags…")
            self._tags_timer.start()

    def _request_tags(self) -> None:
        if not self.path or self.session is None:
            return
        answers = self._answers(self._load_tags, self._show_tags, self.tags.clear,
                                "Hashtags are suggested once the note is indexed.",
                                "Hashtag suggestions are unavailable.", "suggest hashtags")
        self.session.tags(self.path, *answers)

    def _show_tags(self, path: str, tags: tuple[list[str], list[str]]) -> None:
        existing, suggested = tags
        self.tags.set_tags(existing, suggested)
        self.tagsShown.emit(path)

    # --- the reader's answers to suggestions ---------------------------------------------------------
    def accept_tag(self, tag: str) -> None:
        path = self.path
        if not path or self.session is None:
            return
        self._own_write = path  # the watcher will see this save: no need to ask the model again

        def done(added: list[str]) -> None:
            self.statusMessage.emit(f"Added #{tag} to {Path(path).name}" if added else f"#{tag} was already there", 5000)
            if self.path == path:
                self.tags.mark_accepted(tag)
                self.noteEdited.emit(path)
                self.tagsShown.emit(path)

        def failed(error: Exception) -> None:
            self._own_write = None
            self.failed.emit(error, f"add #{tag}")
            if self.path == path:
                self.tags.set_busy(False)
                self.noteEdited.emit(path)
                self.show_note(path)

        self.session.accept_tag(path, tag, done, failed)

    def dismiss_tag(self, tag: str) -> None:
        if self.path and self.session is not None:
            self.session.dismiss_tag(self.path, tag)
            self.statusMessage.emit(f"#{tag} won't be suggested for this note again", 4000)
