"""The main window: the welcome page, then the note list, the note, and its related notes and hashtags.

The parts own their widgets and slots (welcome.py, note_list_pane.py, note_view.py, side_panel.py,
status_bar.py; menus.py lays out the menus and toolbar). The window wires them to one `VaultSession` at a
time, which does all engine work in the background, and keeps what ties the parts together: which note is
shown, and the back/forward history.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QSplitter, QStackedWidget

from notellm.engine import ReindexSummary, VaultNotFoundError
from notellm.engine.sample_vault import SAMPLE_START_NOTE, bundled_sample_vault, users_sample_vault

from . import theme
from .error_box import ErrorBox
from .errors import OPEN_FOLDER, OPEN_SETTINGS, REBUILD, RETRY
from .history import History
from .menus import install_menus, install_toolbar, window_action
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
        self._shown_note_changed = False  # the watcher saw the shown note change; the engine has not synced it yet
        self.history = History()
        self._retry: Callable[[], None] | None = None  # what an error's Retry button does
        self._pending_note: str | None = None  # to show once the vault being opened is open
        self._first_note: str | None = None  # to show then if the vault has no last note to reopen
        self._offers_sample = False  # the installation carries a sample vault (the file worker looks)
        self._copying_sample = False  # a second click while the copy is made must not start another
        self.setWindowTitle("NoteLLM")
        self.resize(1280, 800)
        self.setMinimumSize(820, 520)

        self._build_parts()
        self._build_actions()
        self.recent_menu = install_menus(self)
        self.recent_menu.openVault.connect(self.open_vault)
        self.recent_menu.clearRequested.connect(self._clear_recent)
        self.vault_label = install_toolbar(self)
        self._update_nav_actions()
        self._restore_window_state()
        self._show_recent()
        self._apply_preview_theme()
        hints = QApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._system_scheme_changed)

    # --- construction ------------------------------------------------------------------------
    def _build_parts(self) -> None:
        self.welcome = WelcomePage()
        self.welcome.openFolder.connect(self.choose_vault)
        self.welcome.openRecent.connect(self.open_vault)
        self.welcome.trySample.connect(self.try_sample_vault)
        self.note_list = NoteListPane()
        self.note_list.noteChosen.connect(self.show_note)
        self.note_view = NoteView(self.note_list.model, self.files)
        self.note_view.noteShown.connect(self.noteShown)
        self.note_view.openNote.connect(self.show_note)
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
        self.errors = ErrorBox(self)
        self.errors.wayForward.connect(self._take_way_forward)
        for part in (self.note_list, self.note_view, self.side_panel, self.personalize_status):
            part.failed.connect(self.errors.show)
        for part in (self.note_view, self.side_panel, self.personalize_status):
            part.statusMessage.connect(self.statusBar().showMessage)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        for column, (part, stretch) in enumerate(((self.note_list, 0), (self.note_view, 1), (self.side_panel, 0))):
            self.splitter.addWidget(part)
            self.splitter.setStretchFactor(column, stretch)
        self.splitter.setHandleWidth(1)
        self.splitter.setSizes([350, 570, 360])
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.splitter)
        self.setCentralWidget(self.pages)
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        bar.addPermanentWidget(self.index_status)
        bar.addPermanentWidget(self.personalize_status)

    def _build_actions(self) -> None:
        """The window's own commands; the parts that carry out a command own its slot."""
        action = partial(window_action, self)
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
        self.forward_action = action("F&orward", self.go_forward, QKeySequence.StandardKey.Forward)
        self.editor_action = action("Open in &Editor", self.note_view.open_in_editor, "Ctrl+E")
        self.reveal_action = action("&Reveal in Folder", self.note_view.reveal_in_folder, "Ctrl+Shift+R")
        for note_action in (self.editor_action, self.reveal_action):
            note_action.setEnabled(False)
            self.note_view.noteAvailable.connect(note_action.setEnabled)
        self.refresh_action = action("Re&fresh Note", self.refresh_current, QKeySequence.StandardKey.Refresh)
        self.reindex_action = action("&Update Index Now", self.reindex, "Ctrl+Shift+I")
        self.sample_action = action("Open Sa&mple Vault", self.try_sample_vault, tip="Your own copy of Foam's documentation, to see what NoteLLM does")
        self.sample_action.setVisible(False)
        self.files.submit(bundled_sample_vault, self._sample_found)

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
        self._apply_preview_theme()

    def _apply_preview_theme(self) -> None:
        self.note_view.set_dark(QApplication.instance().property("notellmTheme") == "dark")

    def _system_scheme_changed(self, *_) -> None:
        if self.theme_mode == "system":
            self.set_theme("system")

    # --- vaults ------------------------------------------------------------------------------
    def choose_vault(self) -> None:
        start = str(self.session.vault) if self.session and self.session.vault else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of Markdown notes", start)
        if folder:
            self.open_vault(folder)

    def _sample_found(self, source: Path | None) -> None:
        self._offers_sample = source is not None
        self.welcome.offer_sample(self._offers_sample)
        self.sample_action.setVisible(self._offers_sample)

    def try_sample_vault(self) -> None:
        """Open the user's copy of the sample vault (`engine.sample_vault`), copied on first use by the file worker."""
        if not self._offers_sample or self._copying_sample:
            return
        self._copying_sample = True

        def copied(copy: Path) -> None:
            self._copying_sample = False
            self.open_vault(str(copy), first_note=SAMPLE_START_NOTE)

        def failed(error: Exception) -> None:
            self._copying_sample = False
            self.errors.show(error, "copy the sample vault")

        self.files.submit(users_sample_vault, copied, failed)

    def open_vault(self, vault: str, options: IndexOptions | None = None, note: str | None = None,
                   rebuild: bool = False, first_note: str | None = None) -> None:
        """Open a vault (closing the current one); `note` is shown once it is open, else the note last shown in it,
        else `first_note`; `rebuild` starts its index afresh."""
        if self.session is not None:
            self.save_window_state()
            self.session.close()
            self.session.deleteLater()
        session = VaultSession(self.worker, self.training, vault, options or self.settings.index_options(), self)
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
        self._first_note = first_note
        self.current_path = None
        self.history.clear()
        self._update_nav_actions()
        for part in (self.note_list, self.note_view, self.side_panel, self.index_status, self.personalize_status):
            part.set_session(session)
        self._retry = lambda: self.open_vault(vault, options, note, rebuild, first_note)  # the same request again
        self.vault_label.setText(Path(vault).name)
        self.setWindowTitle(f"{Path(vault).name} — NoteLLM")
        self.pages.setCurrentWidget(self.splitter)
        session.open()

    def _on_opened(self, vault: str) -> None:
        self.settings.remember_vault(vault)
        self._show_recent()
        self._retry = self.reindex
        last = self._pending_note or self.settings.value(f"notes/{self._vault_key()}") or self._first_note
        self._pending_note = self._first_note = None
        if last and self.current_path is None:
            self._look_on_disk(str(last), self._show_first_note)

    def _show_first_note(self, path: str, exists: bool) -> None:
        if exists and self.current_path is None:
            self.show_note(path, push_history=False)

    def _session_failed(self, session: VaultSession, error: Exception) -> None:
        if session is not self.session:
            return
        if session.index is None:  # the vault could not be opened at all: back to the welcome page
            if isinstance(error, VaultNotFoundError):
                self.settings.forget_vault(str(session.requested_vault))
            self._show_recent()
            self.pages.setCurrentWidget(self.welcome)
            self.setWindowTitle("NoteLLM")
            self.vault_label.setText("")
            self.index_status.clear()
        self.errors.show(error, f"work on {session.requested_vault.name}")

    def _show_recent(self) -> None:
        vaults = self.settings.recent_vaults()
        self.welcome.set_recent(vaults)
        self.recent_menu.set_recent(vaults)

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._show_recent()

    def _on_notes(self, rows: list[dict]) -> None:
        indexing = self.session is not None and self.session.run.state in ("indexing", "pausing", "cancelling")
        self.note_list.set_notes(rows, indexing)
        if self.current_path and self.note_list.is_indexed(self.current_path):
            self.side_panel.retry_waiting()

    def _on_index_finished(self, summary: ReindexSummary) -> None:
        if not summary.cancelled:
            self.side_panel.retry_waiting()

    def reindex(self) -> None:
        if self.session is not None:
            self.session.reindex()

    # --- showing a note ------------------------------------------------------------------------
    def show_note(self, path: str, push_history: bool = True) -> None:
        """Show a note (vault path): preview now, related notes and hashtags when the worker gets to them."""
        if self.session is None or self.session.vault is None:
            return
        if push_history:
            self.history.visit(self.current_path, path)
        self.current_path = path
        self._shown_note_changed = False
        self._update_nav_actions()
        self.note_list.show_selected(path)
        self.note_view.show_note(path)
        self.side_panel.show_note(path)

    def refresh_current(self) -> None:
        if self.current_path:
            self.note_view.reload()
            self.side_panel.show_note(self.current_path)

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

    def _remember_related_options(self, hide_linked: bool, count: int) -> None:
        self.settings.hide_linked = hide_linked
        self.settings.set_value("view/related_count", count)

    def _take_way_forward(self, way: str) -> None:
        """The button the reader chose on an error message."""
        if way == OPEN_FOLDER:
            self.choose_vault()
        elif way == OPEN_SETTINGS:
            self.open_settings()
        elif way == RETRY and self._retry is not None:
            self._retry()
        elif way == REBUILD and self.session is not None:
            self.open_vault(str(self.session.requested_vault), self.session.options, rebuild=True)

    # --- vault changes from the watcher -------------------------------------------------------------
    def _look_on_disk(self, path: str, then: Callable[[str, bool], None]) -> None:
        """`then(path, whether the open vault has that file)`, once the file worker has looked: the GUI
        thread never waits on the disk. Dropped if another vault was opened meanwhile."""
        session = self.session
        if session is not None and session.vault is not None:
            file = session.vault / path
            self.files.submit(file.is_file, lambda exists: then(path, exists) if self.session is session else None)

    def _on_files_changed(self, paths: list[str]) -> None:
        """The watcher saw these files change: the shown one is read again, once, before the engine has
        synced it, so the reader sees the save at once."""
        if self.current_path in paths:
            self._shown_note_changed = True
            self.note_view.reload()

    def _on_vault_changed(self, summary: ReindexSummary) -> None:
        """The engine has synced a change: ask again only about what it touched. The shown note's
        related notes and hashtags when it changed; its related notes when one it lists changed or went."""
        path, shown_changed, self._shown_note_changed = self.current_path, self._shown_note_changed, False
        if not path:
            return
        if path in summary.removed_paths:
            self._look_on_disk(path, self._shown_note_removed)
        elif shown_changed or path in summary.embedded_paths:
            self.side_panel.note_synced()
        elif {*summary.embedded_paths, *summary.removed_paths} & set(self.side_panel.related.paths()):
            self.side_panel.related_changed()

    def _shown_note_removed(self, path: str, exists: bool) -> None:
        """The index dropped the shown note: say it is gone, unless a file is back at its path."""
        if path != self.current_path:
            return
        if exists:
            self.note_view.reload()
            self.side_panel.note_synced()
        else:
            self.note_view.show_gone(path)
            self.side_panel.clear()
