"""Note cards (title, folder, score, why it is there) in a list that fits them to its width: related notes and search results."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QSizePolicy, QVBoxLayout, QWidget

from .layouts import fill
from .notes_model import PathRole


@dataclass
class Card:
    """What one card shows; `score` is the engine's relevance (0-1, never higher than the card above)."""

    path: str
    title: str
    folder: str
    score: float
    reason: str
    linked: bool = False

    @property
    def accessible_text(self) -> str:
        return f"{self.title}, score {self.score:.2f}{', linked' if self.linked else ''}, {self.reason}"

    @property
    def tooltip(self) -> str:
        return f"{self.path}\nrelevance {self.score:.3f}{' · already linked' if self.linked else ''}\n{self.reason}"


def label(text: str, name: str, wrap: bool = False) -> QLabel:
    """A plain-text label styled by `name`; a wrapping one takes the width it is given and grows downwards,
    never asking for more width (a long title or folder would otherwise widen the card past its list)."""
    widget = QLabel(text)
    widget.setObjectName(name)
    widget.setTextFormat(Qt.TextFormat.PlainText)
    if wrap:
        widget.setWordWrap(True)
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        widget.setSizePolicy(policy)
    return widget


def breakable_folder(folder: str) -> str:
    """A folder path that may wrap after each `/` (a zero-width space there), since it has no spaces."""
    return (folder or "vault root").replace("/", "/\u200b")


class NoteCard(QFrame):
    """Title with a `linked` badge, folder and score, a score bar, and the reason."""

    def __init__(self, card: Card, parent: QWidget | None = None):
        super().__init__(parent)
        self.card = card
        self.setObjectName("relatedRow")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # clicks and keys go to the list
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(label(card.title, "relatedTitle", wrap=True), 1)
        if card.linked:
            top.addWidget(label("linked", "badge"), 0, Qt.AlignmentFlag.AlignTop)
        self.score_label = label(f"{card.score:.2f}", "scoreText")
        bottom = fill(QHBoxLayout(), (label(breakable_folder(card.folder), "muted", wrap=True), 1), spacing=8)
        bottom.addWidget(self.score_label, 0, Qt.AlignmentFlag.AlignTop)
        bar = QProgressBar()
        bar.setObjectName("score")
        bar.setRange(0, 100)
        bar.setValue(max(0, min(100, round(card.score * 100))))
        bar.setTextVisible(False)
        bar.setFixedHeight(5)
        fill(QVBoxLayout(self), top, bottom, bar, label(card.reason, "reason", wrap=True), margins=(10, 7, 10, 8), spacing=3)


class CardList(QListWidget):
    """Cards one under the other, as wide as the list: they wrap and the list never scrolls sideways.
    ↑ ↓ move, Enter or a click chooses (`chosen`, once even where a click also counts as an activation)."""

    chosen = Signal(str)  # the vault path of the card chosen

    def __init__(self, name: str, accessible_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName(accessible_name)
        self.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._last_choice: tuple[str | None, float] = (None, 0.0)
        self.itemActivated.connect(self._choose)
        self.itemClicked.connect(self._choose)

    def set_cards(self, cards: list[Card]) -> None:
        self.clear()
        for card in cards:
            item = QListWidgetItem()
            item.setData(PathRole, card.path)
            item.setToolTip(card.tooltip)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, card.accessible_text)
            self.addItem(item)
            self.setItemWidget(item, NoteCard(card))
        self._fit_cards()

    def cards(self) -> list[NoteCard]:
        return [self.itemWidget(self.item(i)) for i in range(self.count())]

    def paths(self) -> list[str]:
        return [self.item(i).data(PathRole) for i in range(self.count())]

    def _card_width(self) -> int:
        # room is kept for the vertical scroll bar whether or not it shows, so its coming and going never
        # changes the cards' width (and so their heights, and so whether it shows)
        return max(1, self.contentsRect().width() - self.verticalScrollBar().sizeHint().width())

    def _fit_cards(self) -> None:
        width = self._card_width()
        for i in range(self.count()):
            item = self.item(i)
            item.setSizeHint(QSize(width, self.itemWidget(item).heightForWidth(width)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_cards()

    def _choose(self, item: QListWidgetItem) -> None:
        path = item.data(PathRole)
        now = time.monotonic()
        last_path, last_time = self._last_choice
        if path and not (path == last_path and now - last_time < 0.5):
            self._last_choice = (path, now)
            self.chosen.emit(path)
