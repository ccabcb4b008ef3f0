"""The window's menu bar and toolbar, laid out from the actions the window and its parts own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QSizePolicy, QToolButton, QWidget

if TYPE_CHECKING:
    from .main_window import MainWindow

THEMES = (("system", "Follow &System"), ("light", "&Light"), ("dark", "&Dark"))


def window_action(window: QMainWindow, text: str, slot: Callable[[], None],
                  shortcut: str | QKeySequence.StandardKey | None = None, tip: str | None = None) -> QAction:
    """An action of the window, its shortcut live wherever the focus is in the window."""
    action = QAction(text, window)
    action.triggered.connect(slot)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    window.addAction(action)
    return action


class RecentVaultsMenu(QMenu):
    openVault = Signal(str)
    clearRequested = Signal()

    def set_recent(self, vaults: list[str]) -> None:
        self.clear()
        for vault in vaults:
            self.addAction(vault).triggered.connect(lambda _=False, v=vault: self.openVault.emit(v))
        if vaults:
            self.addSeparator()
            self.addAction("Clear Recent").triggered.connect(self.clearRequested)
        self.setEnabled(bool(vaults))


def install_menus(window: MainWindow) -> RecentVaultsMenu:
    """File, Go, Note, Index and View; returns File › Open Recent, which the window keeps up to date."""
    bar = window.menuBar()
    file = bar.addMenu("&File")
    file.addAction(window.open_action)
    recent = RecentVaultsMenu("Open &Recent", file)
    file.addMenu(recent)
    file.addAction(window.sample_action)
    for action in (None, window.settings_action, None, window.quit_action):
        file.addSeparator() if action is None else file.addAction(action)
    go = bar.addMenu("&Go")
    for action in (window.search_action, window.filter_action, None, window.list_action, window.preview_action,
                   window.related_action, None, window.back_action, window.forward_action):
        go.addSeparator() if action is None else go.addAction(action)
    note = bar.addMenu("&Note")
    for action in (window.editor_action, window.reveal_action, window.refresh_action):
        note.addAction(action)
    index = bar.addMenu("&Index")
    for action in (window.reindex_action, window.index_status.pause_action, window.index_status.cancel_action):
        index.addAction(action)
    index.addSeparator()
    index.addAction(window.personalize_status.action)
    index.setToolTipsVisible(True)  # the tooltip says why personalizing is unavailable
    view = bar.addMenu("&View")
    looks = QActionGroup(window)
    for mode, label in THEMES:
        action = QAction(label, window, checkable=True)
        action.setChecked(mode == window.theme_mode)
        action.triggered.connect(lambda _=False, m=mode: window.set_theme(m))
        looks.addAction(action)
        view.addAction(action)
    return recent


def _nav_button(action: QAction, arrow: str) -> QToolButton:
    action.setIconText(arrow)
    action.setToolTip(f"{action.text().replace('&', '')} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
    button = QToolButton()
    button.setDefaultAction(action)
    button.setObjectName("navButton")
    return button


def install_toolbar(window: MainWindow) -> QLabel:
    """Back, forward, the vault's name, the search box and Settings; returns the label for the vault's name."""
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setFloatable(False)
    toolbar.toggleViewAction().setVisible(False)
    toolbar.addWidget(_nav_button(window.back_action, "←"))
    toolbar.addWidget(_nav_button(window.forward_action, "→"))
    vault_label = QLabel("")
    vault_label.setObjectName("sectionTitle")
    toolbar.addWidget(vault_label)
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, spacer.sizePolicy().verticalPolicy())
    toolbar.addWidget(spacer)
    toolbar.addWidget(window.note_list.search_edit)
    gap = QWidget()
    gap.setFixedWidth(8)
    toolbar.addWidget(gap)
    settings_button = QToolButton()
    settings_button.setDefaultAction(window.settings_action)
    settings_button.setText("Settings")
    toolbar.addWidget(settings_button)
    return vault_label
