"""The panel beside the preview: related notes and hashtag suggestions for the selected note."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from notellm.engine import RelatedNote

from .flow_layout import flow_container

PathRole = Qt.ItemDataRole.UserRole + 1


def _label(text: str, name: str, wrap: bool = False) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(wrap)
    return label


class RelatedRow(QFrame):
    """Title, folder, score bar, `linked` badge and the reason, for one related note."""

    def __init__(self, note: RelatedNote, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("relatedRow")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # clicks go to the list
        title = _label(note.title, "relatedTitle")
        title.setTextFormat(Qt.TextFormat.PlainText)
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(title, 1)
        if note.linked:
            top.addWidget(_label("linked", "badge"))
        bar = QProgressBar()
        bar.setObjectName("score")
        bar.setRange(0, 100)
        bar.setValue(max(0, min(100, round(note.score * 100))))
        bar.setTextVisible(False)
        bar.setFixedHeight(5)
        score = _label(f"{note.score:.2f}", "scoreText")
        bottom = QHBoxLayout()
        bottom.setSpacing(8)
        bottom.addWidget(_label(note.folder or "vault root", "muted"))
        bottom.addStretch(1)
        bottom.addWidget(score)
        bar_row = QHBoxLayout()
        bar_row.addWidget(bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 7, 10, 8)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addLayout(bottom)
        layout.addLayout(bar_row)
        layout.addWidget(_label(note.reason, "reason", wrap=True))


class RelatedPanel(QWidget):
    navigate = Signal(str)  # vault path of the related note the user chose
    optionsChanged = Signal(bool, int)  # hide linked, how many

    def __init__(self, count: int = 10, hide_linked: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        header = QHBoxLayout()
        header.addWidget(_label("Related notes", "sectionTitle"))
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
        self.list = QListWidget()
        self.list.setObjectName("relatedList")
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.setAccessibleName("Related notes")
        self._last_activation: tuple[str | None, float] = (None, 0.0)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self.message = _label("", "placeholder", wrap=True)
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

    def _activated(self, item: QListWidgetItem) -> None:
        # a click can also count as an activation (platform setting): act once
        path = item.data(PathRole)
        now = time.monotonic()
        last_path, last_time = self._last_activation
        if path and not (path == last_path and now - last_time < 0.5):
            self._last_activation = (path, now)
            self.navigate.emit(path)

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
        for note in notes:
            item = QListWidgetItem()
            item.setData(PathRole, note.path)
            item.setToolTip(f"{note.path}\nscore {note.score:.3f}{' · already linked' if note.linked else ''}\n{note.reason}")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{note.title}, score {note.score:.2f}{', linked' if note.linked else ''}")
            row = RelatedRow(note)
            item.setSizeHint(row.sizeHint())
            self.list.addItem(item)
            self.list.setItemWidget(item, row)

    def paths(self) -> list[str]:
        return [self.list.item(i).data(PathRole) for i in range(self.list.count())]


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
        layout.addWidget(_label(f"#{tag}", "chipText"))
        self.accept_button = QToolButton()
        self.accept_button.setText("✓")
        self.accept_button.setObjectName("chipAccept")
        self.accept_button.setToolTip(f"Add #{tag} to this note's frontmatter")
        self.accept_button.setAccessibleName(f"Add tag {tag}")
        self.accept_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.accept_button.clicked.connect(lambda: self.accepted.emit(self.tag))
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("✕")
        self.dismiss_button.setObjectName("chipDismiss")
        self.dismiss_button.setToolTip(f"Dismiss #{tag}; it won't be suggested for this note again")
        self.dismiss_button.setAccessibleName(f"Dismiss tag {tag}")
        self.dismiss_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.dismiss_button.clicked.connect(lambda: self.dismissed.emit(self.tag))
        layout.addWidget(self.accept_button)
        layout.addWidget(self.dismiss_button)

    def set_busy(self, busy: bool) -> None:
        self.accept_button.setEnabled(not busy)
        self.dismiss_button.setEnabled(not busy)


class TagPanel(QWidget):
    accepted = Signal(str)
    dismissed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = _label("", "muted", wrap=True)
        self.suggested_box, self.suggested = flow_container()
        self.existing_box, self.existing = flow_container()
        self.existing_title = _label("In this note", "subTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(_label("Suggested hashtags", "sectionTitle"))
        layout.addWidget(self.status)
        layout.addWidget(self.suggested_box)
        layout.addWidget(self.existing_title)
        layout.addWidget(self.existing_box)
        self.clear("")

    def clear(self, status: str) -> None:
        self.suggested.clear()
        self.existing.clear()
        self.existing_title.hide()
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
            self.existing.addWidget(_label(f"#{tag}", "existingTag"))
        self.existing_title.setVisible(bool(existing))
        self.status.setText("" if suggested else "No new hashtags to suggest.")
        self.status.setVisible(not suggested)
        self.suggested_box.updateGeometry()
        self.existing_box.updateGeometry()

    def mark_accepted(self, tag: str) -> None:
        """The tag is in the note now: its chip moves to the note's own tags."""
        for chip in self.chips():
            if chip.tag == tag:
                self.suggested.removeWidget(chip)
                chip.hide()
                chip.deleteLater()
            else:
                chip.set_busy(False)
        if tag not in self.existing_tags():
            self.existing.addWidget(_label(f"#{tag}", "existingTag"))
        self.existing_title.show()
        if not self.chips():
            self.status.setText("No new hashtags to suggest.")
            self.status.show()
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
        for chip in self.chips():
            if chip.tag == tag:
                self.suggested.removeWidget(chip)
                chip.hide()
                chip.deleteLater()
        if not self.chips():
            self.status.setText("No new hashtags to suggest.")
            self.status.show()
        self.dismissed.emit(tag)
