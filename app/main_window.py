"""The main window: welcome page, note list, preview and the related/hashtag side panel.

It wires widgets to the `VaultSession` (which does all engine work in the background) and keeps
the little state a reader needs: which note is shown, and the back/forward history.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from notellm.engine import ReindexSummary, VaultNotFoundError

from . import theme
from .errors import OPEN_FOLDER, OPEN_SETTINGS, REBUILD, RETRY, explain
from .history import History
from .note_list_pane import NoteListPane
from .note_view import NoteView
from .session import IndexOptions, VaultSession
from .settings import AppSettings, SettingsDialog
from .side_panel import SidePanel
from .status_bar import IndexStatus, PersonalizeStatus
from .welcome import WelcomePage
from .worker import EngineWorker, FileWorker, TrainingWorker


class MainWindow(QMainWindow):
    noteShown = Signal(str)  # a note's preview is on screen (tests and accessibility wait on it)
    relatedShown = Signal(str)
    tagsShown = Signal(str)

    def __init__(self, settings: AppSettings | None = None, worker: EngineWorker | None = None, theme_mode: str = "system"):
        super().__init__()
        self.settings = settings or AppSettings()
        self.worker = worker or EngineWorker(self)
        self.files = FileWorker(self)
        self.training = TrainingWorker(self)
        self.theme_mode = theme_mode
        self.session: VaultSession | None = None
        self.current_path: str | None = None
        self.history = History()
        self._error_box: QMessageBox | None = None
        self._retry = None
        self._pending_note: str | None = None  # to show once the vault being opened is open
        self.setWindowTitle("NoteLLM")
        self.resize(1280, 800)
        self.setMinimumSize(820, 520)

        self._build_widgets()
        self._build_actions()
        self._build_status_bar()
        self._show_no_note()
        self._restore_window_state()
        self.welcome.set_recent(self.settings.recent_vaults())
        self.pages.setCurrentWidget(self.welcome)
        hints = QApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._system_scheme_changed)

    def _system_scheme_changed(self, *_):
        if self.theme_mode == "system":
            self.set_theme("system")

    # --- construction ------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.pages = QStackedWidget()
        self.welcome = WelcomePage()
        self.welcome.openFolder.connect(self.choose_vault)
        self.welcome.openRecent.connect(self.open_vault)
        self.pages.addWidget(self.welcome)

        self.note_list = NoteListPane()
        self.note_list.noteChosen.connect(self.show_note)
        self.note_list.failed.connect(self.show_error)

        self.note_view = NoteView(self.note_list.model, self.files)
        self.note_view.noteShown.connect(self.noteShown)
        self.note_view.openNote.connect(self.show_note)
        self.note_view.statusMessage.connect(self.statusBar().showMessage)
        self.note_view.failed.connect(self.show_error)

        self.side_panel = SidePanel(self.settings.index_options().related_count, self.settings.hide_linked)
        self.side_panel.navigate.connect(self.follow_related)
        self.side_panel.related.optionsChanged.connect(self._remember_related_options)
        self.side_panel.relatedShown.connect(self.relatedShown)
        self.side_panel.tagsShown.connect(self.tagsShown)
        self.side_panel.noteEdited.connect(self.note_view.reload)
        self.index_status = IndexStatus()
        self.personalize_status = PersonalizeStatus()
        self.personalize_status.switchModel.connect(
            lambda vault, options: self.open_vault(vault, options, note=self.current_path))
        self.personalize_status.statusMessage.connect(self.statusBar().showMessage)
        self.personalize_status.failed.connect(self.show_error)
        self.side_panel.statusMessage.connect(self.statusBar().showMessage)
        self.side_panel.failed.connect(self.show_error)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.note_list)
        self.splitter.addWidget(self.note_view)
        self.splitter.addWidget(self.side_panel)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setHandleWidth(1)
        self.splitter.setSizes([350, 570, 360])
        self.pages.addWidget(self.splitter)
        self.setCentralWidget(self.pages)

    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None, tip=None) -> QAction:
            a = QAction(text, self)
            a.triggered.connect(slot)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            self.addAction(a)
            return a

        self.open_action = action("&Open Folder…", self.choose_vault, QKeySequence.StandardKey.Open, "Open a folder of Markdown notes")
        self.settings_action = action("&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.search_action = action("&Search by Meaning…", self.note_list.focus_search, "Ctrl+K", "Find notes by what they are about")
        self.filter_action = action("&Filter Notes", self.note_list.focus_filter, "Ctrl+L")
        self.list_action = action("Note &List", self.note_list.focus_list, "Ctrl+1")
        self.preview_action = action("&Preview", lambda: self.note_view.preview.setFocus(), "Ctrl+2")
        self.related_action = action("&Related Notes", lambda: self.side_panel.related.list.setFocus(), "Ctrl+3")
        self.back_action = action("&Back", self.go_back, QKeySequence.StandardKey.Back)
        self.forward_action = action("&Forward", self.go_forward, QKeySequence.StandardKey.Forward)
        self.editor_action = action("Open in &Editor", self.note_view.open_in_editor, "Ctrl+E")
        self.reveal_action = action("&Reveal in Folder", self.note_view.reveal_in_folder, "Ctrl+Shift+R")
        for note_action in (self.editor_action, self.reveal_action):
            note_action.setEnabled(False)
            self.note_view.noteAvailable.connect(note_action.setEnabled)
        self.refresh_action = action("Re&fresh Note", self.refresh_current, QKeySequence.StandardKey.Refresh)
        self.reindex_action = action("&Update Index Now", self.reindex, "Ctrl+Shift+I")

        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        self.recent_menu = menu.addMenu("Open &Recent")
        menu.addSeparator()
        menu.addAction(self.settings_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        go = self.menuBar().addMenu("&Go")
        for a in (self.search_action, self.filter_action, None, self.list_action, self.preview_action, self.related_action,
                  None, self.back_action, self.forward_action):
            go.addSeparator() if a is None else go.addAction(a)
        note = self.menuBar().addMenu("&Note")
        for a in (self.editor_action, self.reveal_action, self.refresh_action):
            note.addAction(a)
        index = self.menuBar().addMenu("&Index")
        for a in (self.reindex_action, self.index_status.pause_action, self.index_status.cancel_action):
            index.addAction(a)
        index.addSeparator()
        index.addAction(self.personalize_status.action)
        index.setToolTipsVisible(True)  # the tooltip says why personalizing is unavailable
        view = self.menuBar().addMenu("&View")
        looks = QActionGroup(self)
        for mode, label in (("system", "Follow &System"), ("light", "&Light"), ("dark", "&Dark")):
            a = QAction(label, self, checkable=True)
            a.setChecked(mode == self.theme_mode)
            a.triggered.connect(lambda _=False, m=mode: self.set_theme(m))
            looks.addAction(a)
            view.addAction(a)
        self._update_recent_menu()

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setFloatable(False)
        toolbar.toggleViewAction().setVisible(False)
        self.back_action.setIconText("←")
        self.forward_action.setIconText("→")
        self.back_action.setToolTip(f"Back ({self.back_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        self.forward_action.setToolTip(f"Forward ({self.forward_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        self.back_button = QToolButton()
        self.back_button.setDefaultAction(self.back_action)
        self.back_button.setObjectName("navButton")
        self.forward_button = QToolButton()
        self.forward_button.setDefaultAction(self.forward_action)
        self.forward_button.setObjectName("navButton")
        toolbar.addWidget(self.back_button)
        toolbar.addWidget(self.forward_button)
        self.vault_label = QLabel("")
        self.vault_label.setObjectName("sectionTitle")
        toolbar.addWidget(self.vault_label)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding, spacer.sizePolicy().verticalPolicy())
        toolbar.addWidget(spacer)
        toolbar.addWidget(self.note_list.search_edit)
        spacer2 = QWidget()
        spacer2.setFixedWidth(8)
        toolbar.addWidget(spacer2)
        settings_button = QToolButton()
        settings_button.setDefaultAction(self.settings_action)
        settings_button.setText("Settings")
        toolbar.addWidget(settings_button)
        self.toolbar = toolbar
        self._update_nav_actions()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        bar.addPermanentWidget(self.index_status)
        bar.addPermanentWidget(self.personalize_status)

    # tests/test_personalize.py reaches these parts by the names they had before the window was split up
    related_panel = property(lambda self: self.side_panel.related)
    personalize_action = property(lambda self: self.personalize_status.action)
    personalize_label = property(lambda self: self.personalize_status.label)
    personalize_cancel_button = property(lambda self: self.personalize_status.cancel_button)
    start_personalize = property(lambda self: self.personalize_status.start)
    cancel_personalize = property(lambda self: self.personalize_status.cancel)

    # --- window state ---------------------------------------------------------------------
    def _restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        splitter = self.settings.value("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)

    def save_window_state(self) -> None:
        self.settings.set_value("window/geometry", self.saveGeometry())
        self.settings.set_value("window/splitter", self.splitter.saveState())
        if self.session is not None and self.session.vault is not None and self.current_path:
            self.settings.set_value(f"notes/{self._vault_key()}", self.current_path)
        self.settings.qsettings.sync()

    def _vault_key(self) -> str:
        return str(self.session.vault).replace("/", "|").replace("\\", "|") if self.session and self.session.vault else ""

    def closeEvent(self, event) -> None:
        self.save_window_state()
        if self.session is not None:
            self.session.close()
        super().closeEvent(event)

    def set_theme(self, mode: str) -> None:
        self.theme_mode = mode
        self.settings.set_value("view/theme", mode)
        theme.apply_theme(QApplication.instance(), mode)
        self._apply_preview_css()

    def _apply_preview_css(self) -> None:
        self.note_view.set_dark(QApplication.instance().property("notellmTheme") == "dark")

    # --- vaults ------------------------------------------------------------------------------
    def choose_vault(self) -> None:
        start = str(self.session.vault) if self.session and self.session.vault else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of Markdown notes", start)
        if folder:
            self.open_vault(folder)

    def open_vault(self, vault: str, options: IndexOptions | None = None, note: str | None = None,
                   rebuild: bool = False) -> None:
        """Open a vault (closing the current one); `note` is shown once it is open; `rebuild` starts its index afresh."""
        if self.session is not None:
            self.save_window_state()
            self.session.close()
            self.session.deleteLater()
        options = options or self.settings.index_options()
        session = VaultSession(self.worker, self.training, vault, options, self)
        session.rebuild = rebuild
        session.opened.connect(self._on_opened)
        session.failed.connect(lambda error: self._session_failed(session, error))
        session.notesChanged.connect(self._on_notes)
        session.indexFinished.connect(self._on_index_finished)
        session.vaultChanged.connect(self._on_vault_changed)
        session.filesChanged.connect(self._on_files_changed)
        session.watchFailed.connect(lambda message: self.statusBar().showMessage(message, 8000))
        self.session = session
        self._pending_note = note
        self.current_path = None
        self.history.clear()
        self._update_nav_actions()
        self.note_list.set_session(session)
        self.note_view.set_session(session)
        self.side_panel.set_session(session)
        self.index_status.set_session(session)
        self.personalize_status.set_session(session)
        self._show_no_note()
        self._retry = lambda: self.open_vault(vault)
        self.vault_label.setText(Path(vault).name)
        self.setWindowTitle(f"{Path(vault).name} — NoteLLM")
        self.pages.setCurrentWidget(self.splitter)
        session.open()

    def _on_opened(self, vault: str) -> None:
        self.settings.remember_vault(vault)
        self._update_recent_menu()
        self.welcome.set_recent(self.settings.recent_vaults())
        self._retry = self.reindex
        last = self._pending_note or self.settings.value(f"notes/{self._vault_key()}")
        self._pending_note = None
        if last and self.current_path is None:
            session, file = self.session, Path(vault) / str(last)

            def show_if_present(present: bool) -> None:
                if present and self.session is session and self.current_path is None:
                    self.show_note(str(last), push_history=False)

            self.files.submit(file.is_file, show_if_present)

    def _session_failed(self, session: VaultSession, error: Exception) -> None:
        if session is not self.session:
            return
        if session.index is None:  # the vault could not be opened at all: back to the welcome page
            if isinstance(error, VaultNotFoundError):
                self.settings.forget_vault(str(session.requested_vault))
                self._update_recent_menu()
            self.welcome.set_recent(self.settings.recent_vaults())
            self.pages.setCurrentWidget(self.welcome)
            self.setWindowTitle("NoteLLM")
            self.vault_label.setText("")
            self.index_status.clear()
        self.show_error(error, f"work on {session.requested_vault.name}")

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        vaults = self.settings.recent_vaults()
        for vault in vaults:
            a = self.recent_menu.addAction(vault)
            a.triggered.connect(lambda _=False, v=vault: self.open_vault(v))
        if vaults:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear Recent")
            clear.triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(bool(vaults))

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._update_recent_menu()
        self.welcome.set_recent([])

    def _on_notes(self, rows: list[dict]) -> None:
        self.note_list.set_notes(rows, indexing=self.session is not None and self.session.run.state in ("indexing", "pausing", "cancelling"))
        if self.current_path and self.note_list.is_indexed(self.current_path):
            self.side_panel.retry_waiting()

    def _on_index_finished(self, summary: ReindexSummary) -> None:
        if not summary.cancelled:
            self.side_panel.retry_waiting()

    def reindex(self) -> None:
        if self.session is not None:
            self.session.reindex()

    # --- showing a note --------------------------------------------------------------------------
    def _show_no_note(self) -> None:
        self.note_view.show_nothing()
        self.side_panel.show_nothing()

    def show_note(self, path: str, push_history: bool = True) -> None:
        """Show a note (vault path): preview now, related notes and hashtags when the worker gets to them."""
        if self.session is None or self.session.vault is None:
            return
        if push_history:
            self.history.visit(self.current_path, path)
        self.current_path = path
        self._update_nav_actions()
        self.note_list.show_selected(path)
        self.note_view.show_note(path)
        self.side_panel.show_note(path)

    def refresh_current(self) -> None:
        if self.current_path:
            self.note_view.reload()
            self.side_panel.show_note(self.current_path)

    def _remember_related_options(self, hide_linked: bool, count: int) -> None:
        self.settings.hide_linked = hide_linked
        self.settings.set_value("view/related_count", count)

    # --- navigation --------------------------------------------------------------------------
    def follow_related(self, target: str) -> None:
        """The user chose a related note: record the co-occurrence, then go there."""
        if self.session is not None and self.current_path and target != self.current_path:
            self.session.record_navigation(self.current_path, target)
        self.show_note(target)

    def go_back(self) -> None:
        self._go(self.history.back(self.current_path))

    def go_forward(self) -> None:
        self._go(self.history.forward(self.current_path))

    def _go(self, path: str | None) -> None:
        if path is not None:
            self.show_note(path, push_history=False)

    def _update_nav_actions(self) -> None:
        self.back_action.setEnabled(self.history.can_go_back)
        self.forward_action.setEnabled(self.history.can_go_forward)

    # --- settings -------------------------------------------------------------------------------
    def open_settings(self) -> None:
        current = self.session.options if self.session else self.settings.index_options()
        current = IndexOptions(current.model, current.exclude, current.content_tokens, self.side_panel.related.count.value())
        dialog = SettingsDialog(current, self.worker, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.options()))
        dialog.open()
        self.settings_dialog = dialog

    def apply_settings(self, options: IndexOptions) -> None:
        old = self.session.options if self.session else self.settings.index_options()
        self.settings.set_index_options(options)
        self.side_panel.related.count.setValue(options.related_count)
        if self.session is not None and (options.model, options.exclude, options.content_tokens) != (
            old.model, old.exclude, old.content_tokens
        ):
            self.open_vault(str(self.session.vault or self.session.requested_vault), options, note=self.current_path)

    # --- errors ------------------------------------------------------------------------------------
    def show_error(self, error: BaseException, doing: str = "") -> None:
        """A readable, non-blocking message with a way forward."""
        problem = explain(error, doing)
        if self._error_box is not None:
            self._error_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, problem.title, problem.text, QMessageBox.StandardButton.NoButton, self)
        box.setInformativeText(problem.detail)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        actions = {}
        for label, action in problem.actions:
            actions[box.addButton(label, QMessageBox.ButtonRole.ActionRole)] = action
        box.addButton(QMessageBox.StandardButton.Close)
        box.buttonClicked.connect(lambda button: self._error_action(actions.get(button)))
        box.finished.connect(lambda _: setattr(self, "_error_box", None) if self._error_box is box else None)
        self._error_box = box
        self.statusBar().showMessage(problem.title, 8000)
        box.open()

    def _error_action(self, action: str | None) -> None:
        if action == OPEN_FOLDER:
            QTimer.singleShot(0, self.choose_vault)
        elif action == OPEN_SETTINGS:
            QTimer.singleShot(0, self.open_settings)
        elif action == RETRY and self._retry is not None:
            QTimer.singleShot(0, self._retry)
        elif action == REBUILD and self.session is not None:
            vault, options = str(self.session.requested_vault), self.session.options
            QTimer.singleShot(0, lambda: self.open_vault(vault, options, rebuild=True))

    # --- vault changes from the watcher -------------------------------------------------------------
    def _on_files_changed(self, paths: list[str]) -> None:
        if self.current_path in paths:
            self.note_view.reload()  # before the engine has synced the note: the reader sees the save at once

    def _on_vault_changed(self, _summary: ReindexSummary) -> None:
        path, session = self.current_path, self.session
        if path and session is not None and session.vault is not None:
            file = session.vault / path
            self.files.submit(file.exists, lambda exists: self._shown_note_synced(path, exists))

    def _shown_note_synced(self, path: str, exists: bool) -> None:
        if path != self.current_path:
            return
        if exists:
            self.note_view.reload()
            self.side_panel.note_synced()
        else:
            self.note_view.show_gone(path)
            self.side_panel.clear()
