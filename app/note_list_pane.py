"""The left pane: a filter box over the note list, and the semantic search's results in the list's place."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from notellm.engine import SearchHit

from .note_cards import Card, CardList
from .notes_model import NoteFilterProxy, NoteListModel, PathRole
from .session import VaultSession

SEARCH_RESULTS = 20
FOLDER_WIDTH = 110  # the Folder column's width when the pane has room for it


class NoteListPane(QWidget):
    """Owns the search box too, though the window's toolbar is where it is shown."""

    noteChosen = Signal(str)  # the reader picked a note in the list or among the search results
    failed = Signal(object, str)  # an error, and what was being done

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("leftPane")
        self.session: VaultSession | None = None
        self.shown: str | None = None  # the note on screen, selected in the list
        self._syncing_selection = False

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter notes by title or folder  (Ctrl+L)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter notes")
        self.model = NoteListModel(self)
        self.proxy = NoteFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        self.filter_edit.returnPressed.connect(self.focus_list)
        self.table = self._note_table()
        self.table.selectionModel().currentRowChanged.connect(self._on_table_row)

        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("searchBox")
        self.search_edit.setPlaceholderText("Search by meaning…  Ctrl+K")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Semantic search")
        self.search_edit.returnPressed.connect(self.run_search)
        self.search_edit.textChanged.connect(self._search_text_changed)
        self.search_edit.installEventFilter(self)
        self._search_timer = QTimer(self)  # search once the reader pauses typing
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(400)
        self._search_timer.timeout.connect(self.run_search)
        self.search_title = QLabel()
        self.search_title.setObjectName("muted")
        self.search_results = CardList("searchResults", "Search results")
        self.search_results.chosen.connect(self._choose)
        search_page = QWidget()
        search_layout = QVBoxLayout(search_page)
        search_layout.setContentsMargins(10, 4, 10, 0)
        search_layout.addWidget(self.search_title)
        search_layout.addWidget(self.search_results, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(search_page)

        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.setSpacing(6)
        filter_row = QHBoxLayout()
        filter_row.setContentsMargins(10, 0, 10, 0)
        filter_row.addWidget(self.filter_edit)
        layout.addLayout(filter_row)
        layout.addWidget(self.stack, 1)
        count_row = QHBoxLayout()
        count_row.setContentsMargins(12, 0, 12, 6)
        count_row.addWidget(self.count_label)
        layout.addLayout(count_row)

    def _note_table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("noteTable")
        table.setModel(self.proxy)
        table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        table.setSortingEnabled(True)
        table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(30)
        table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        table.setAccessibleName("Notes")
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setHighlightSections(False)
        header.resizeSection(1, FOLDER_WIDTH)
        table.viewport().installEventFilter(self)
        return table

    def _fit_columns(self, width: int) -> None:
        """Titles come first: the Folder column takes at most a third of the room the date leaves in a
        table `width` wide (the Title column stretches over the rest), so a narrow pane elides folders
        before titles."""
        header = self.table.horizontalHeader()
        header.resizeSection(1, max(40, min(FOLDER_WIDTH, (width - header.sectionSize(2)) // 3)))

    # --- the vault's notes --------------------------------------------------------------------
    def set_session(self, session: VaultSession) -> None:
        """A vault is being opened: no notes until it says which, no search from the last one."""
        self.session = session
        self.shown = None
        self.model.set_notes([])
        self.search_edit.clear()
        self.stack.setCurrentIndex(0)

    def set_notes(self, rows: list[dict], indexing: bool) -> None:
        self.model.set_notes(rows)
        indexed = self.model.indexed_count()
        skipped = sum(1 for r in rows if r.skip_reason)
        if indexing:
            text = f"{indexed} notes indexed so far"
        elif indexed == len(rows) - skipped:
            text = f"{len(rows)} notes"
        else:
            text = f"{indexed} of {len(rows) - skipped} notes indexed"
        self.count_label.setText(text + (f" · {skipped} skipped" if skipped else ""))
        self.show_selected(self.shown)

    def is_indexed(self, path: str) -> bool:
        row = self.model.note(path)
        return bool(row and row.indexed)

    def show_selected(self, path: str | None) -> None:
        """`path` is the note on screen: select it in the list without choosing it again."""
        self.shown = path
        row = self.model.row_of(path) if path else None
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid() or (self.table.currentIndex().row() == index.row()
                                   and self.table.selectionModel().isRowSelected(index.row())):
            return
        self._syncing_selection = True
        try:
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            )
            self.table.scrollTo(index)
        finally:
            self._syncing_selection = False

    def _on_table_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._syncing_selection and current.isValid():
            self._choose(current.data(PathRole))

    def _choose(self, path: str | None) -> None:
        if path and path != self.shown:
            self.noteChosen.emit(path)

    # --- focus (the Go menu) ------------------------------------------------------------------
    def focus_list(self) -> None:
        self.table.setFocus()

    def focus_filter(self) -> None:
        self.stack.setCurrentIndex(0)
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def focus_search(self) -> None:
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    # --- search by meaning --------------------------------------------------------------------
    def _search_text_changed(self, text: str) -> None:
        if text.strip():
            self._search_timer.start()
        else:
            self._search_timer.stop()
            self.stack.setCurrentIndex(0)

    def run_search(self) -> None:
        query = self.search_edit.text().strip()
        if not query or self.session is None:
            return
        self._search_timer.stop()
        self.stack.setCurrentIndex(1)
        self.search_title.setText(f"Searching for “{query}”…")

        def done(hits: list[SearchHit]) -> None:
            if self.search_edit.text().strip() == query:
                self._show_hits(query, hits)

        self.session.search(query, SEARCH_RESULTS, done, lambda error: self.failed.emit(error, "search"))

    def _show_hits(self, query: str, hits: list[SearchHit]) -> None:
        self.search_results.set_cards([Card(h.path, h.title, h.folder, h.score, h.reason) for h in hits])
        self.search_title.setText(f"{len(hits)} notes about “{query}”" if hits else f"Nothing indexed matches “{query}” yet")
        if hits:
            self.search_results.setCurrentRow(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Escape in the search box goes back to the note list; Down goes into the results. The table's
        columns are fitted to its width whenever it changes."""
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns(event.size().width())
        if watched is self.search_edit and event.type() == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Escape:
                self.search_edit.clear()
                self.stack.setCurrentIndex(0)
                self.table.setFocus()
                return True
            if event.key() == Qt.Key.Key_Down and self.stack.currentIndex() == 1:
                self.search_results.setFocus()
                return True
        return super().eventFilter(watched, event)
