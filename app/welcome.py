"""The page a first run shows: what NoteLLM does, a button to open a folder, one to try the sample vault (when
the installation carries it), and the recent vaults."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    openFolder = Signal()
    openRecent = Signal(str)
    trySample = Signal()  # open (a copy of) the installation's sample vault

    def __init__(self, parent=None):
        super().__init__(parent)
        card = QWidget()
        card.setObjectName("welcomeCard")
        card.setMaximumWidth(560)
        title = QLabel("NoteLLM")
        title.setObjectName("welcomeTitle")
        text = QLabel(
            "See the notes related to the one you are reading, and hashtags worth adding to it, "
            "computed on this computer from a folder of Markdown notes. Nothing leaves your machine."
        )
        text.setObjectName("welcomeText")
        text.setWordWrap(True)
        self.open_button = QPushButton("Open folder…")
        self.open_button.setObjectName("primary")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.openFolder)
        self.sample_button = QPushButton("Try the sample vault")
        self.sample_button.setToolTip("Opens your own copy of Foam's documentation, to see what NoteLLM does")
        self.sample_button.hide()  # until offer_sample says the installation has one
        self.sample_button.clicked.connect(self.trySample)
        self.recent_title = QLabel("Recent vaults")
        self.recent_title.setObjectName("subTitle")
        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        self.recent.setMaximumHeight(170)
        self.recent.itemActivated.connect(self._open_item)
        self.recent.itemClicked.connect(self._open_item)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(36, 32, 36, 32)
        inner.setSpacing(14)
        inner.addWidget(title)
        inner.addWidget(text)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.sample_button)
        row.addStretch(1)
        inner.addLayout(row)
        inner.addSpacing(8)
        inner.addWidget(self.recent_title)
        inner.addWidget(self.recent)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        centre = QHBoxLayout()
        centre.addStretch(1)
        centre.addWidget(card, 3)
        centre.addStretch(1)
        outer.addLayout(centre)
        outer.addStretch(2)

    def _open_item(self, item: QListWidgetItem) -> None:
        vault = item.data(Qt.ItemDataRole.UserRole)
        if vault and not self.recent.property("opening"):
            self.recent.setProperty("opening", True)  # a click may also be an activation: open once
            QTimer.singleShot(500, lambda: self.recent.setProperty("opening", False))
            self.openRecent.emit(vault)

    def offer_sample(self, available: bool) -> None:
        """Show the sample vault's button when the installation carries one."""
        self.sample_button.setVisible(available)

    def set_recent(self, vaults: list[str]) -> None:
        self.recent.clear()
        for vault in vaults:
            item = QListWidgetItem(f"{Path(vault).name}    {vault}")
            item.setData(Qt.ItemDataRole.UserRole, vault)
            item.setToolTip(vault)
            self.recent.addItem(item)
        self.recent_title.setVisible(bool(vaults))
        self.recent.setVisible(bool(vaults))
