"""The note list: a table model over `index.notes()` rows and a filter proxy for the search box."""

from __future__ import annotations

import bisect
import datetime as dt

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import QApplication

from notellm.engine import NoteRow
from notellm.engine.vault import LinkResolver

PathRole = Qt.ItemDataRole.UserRole + 1

COLUMNS = ("Title", "Folder", "Modified")


def format_time(mtime_ns: int | None) -> str:
    if not mtime_ns:
        return ""
    when = dt.datetime.fromtimestamp(mtime_ns / 1e9)
    now = dt.datetime.now()
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if when.year == now.year:
        return when.strftime("%d %b")
    return when.strftime("%d %b %Y")


MAX_IN_PLACE_CHANGES = 64  # more notes added or removed at once than this: the list is reset instead


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as (first, last) runs of consecutive ones: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def sort_value(row: NoteRow, column: int):
    """What a column sorts by: the shown text ignoring case, the modification time for Modified."""
    if column == 2:
        return row.mtime_ns or 0
    return ((row.title or row.path) if column == 0 else (row.folder or "—")).casefold()


class NoteListModel(QAbstractTableModel):
    """Rows are the engine's `NoteRow`s; skipped and not-yet-indexed notes are shown dimmed.

    The model keeps its rows in the view's sort order and sorts them itself (`sort`): a sorting proxy
    asks `data()` for both sides of every comparison, which at 10,000 notes froze the window for
    about 3 s each time the list was reset."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[NoteRow] = []
        self._row_of: dict[str, int] = {}
        self._column, self._order = 0, Qt.SortOrder.AscendingOrder

    def _key(self, row: NoteRow):
        return sort_value(row, self._column), row.path

    def _sorted(self, rows: list[NoteRow]) -> list[NoteRow]:
        return sorted(rows, key=self._key, reverse=self._order == Qt.SortOrder.DescendingOrder)

    def _position(self, keys: list, key) -> int:
        """Where a row with this key goes among rows with these keys (in the current order)."""
        if self._order == Qt.SortOrder.AscendingOrder:
            return bisect.bisect_left(keys, key)
        return len(keys) - bisect.bisect_right(keys[::-1], key)

    def set_notes(self, rows: list[NoteRow]) -> None:
        """Show these rows. A few added or removed notes are inserted and removed in place, and only
        changed rows are signalled, so the view never redoes a 10,000-note list for one saved note."""
        incoming = {r.path: r for r in rows}
        if len(set(self._row_of) ^ set(incoming)) > MAX_IN_PLACE_CHANGES:
            self.beginResetModel()
            self._rows = self._sorted(rows)
            self._row_of = {r.path: i for i, r in enumerate(self._rows)}
            self.endResetModel()
            return
        for row in sorted((i for path, i in self._row_of.items() if path not in incoming), reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
        keys = [self._key(r) for r in self._rows]
        for path in incoming.keys() - self._row_of.keys():
            key = self._key(incoming[path])
            row = self._position(keys, key)
            self.beginInsertRows(QModelIndex(), row, row)
            keys.insert(row, key)
            self._rows.insert(row, incoming[path])
            self.endInsertRows()
        changed, moved = [], False
        for i, old in enumerate(self._rows):
            new = incoming[old.path]
            if new != old:
                self._rows[i] = new
                changed.append(i)
                moved = moved or self._key(new) != keys[i]
        self._row_of = {r.path: i for i, r in enumerate(self._rows)}
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        if moved:  # e.g. a note's title changed: its place did too
            self._resort()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._column, self._order = max(column, 0), order
        self._resort()

    def _resort(self) -> None:
        self.layoutAboutToBeChanged.emit()
        paths_before = [r.path for r in self._rows]
        self._rows = self._sorted(self._rows)
        self._row_of = {r.path: i for i, r in enumerate(self._rows)}
        before = self.persistentIndexList()  # the selection, the current note: they follow their note
        after = [self.index(self._row_of[paths_before[index.row()]], index.column()) for index in before]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def note(self, path: str) -> NoteRow | None:
        row = self._row_of.get(path)
        return self._rows[row] if row is not None else None

    def find(self, name: str) -> str | None:
        """The path of the note a name means by its path or file name, by the engine's one rule for names
        (`LinkResolver.find`); None when only the engine knows (an alias or a title: ask it)."""
        return LinkResolver([r.path for r in self._rows if not r.skip_reason]).find(name)

    def row_of(self, path: str) -> int | None:
        return self._row_of.get(path)

    def indexed_count(self) -> int:
        return sum(1 for r in self._rows if r.indexed)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return row.title or row.path
            if column == 1:
                return row.folder or "—"
            return format_time(row.mtime_ns)
        if role == PathRole:
            return row.path
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.skip_reason:
                return f"{row.path}\nNot indexed: {row.skip_reason}"
            tip = row.path if row.indexed else f"{row.path}\nWaiting to be indexed…"
            if row.warning:
                tip += f"\n⚠ {row.warning}"
            return tip
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.skip_reason or not row.indexed:
                return QBrush(QApplication.palette().color(QPalette.ColorRole.PlaceholderText))
            if column > 0:
                return QBrush(QApplication.palette().color(QPalette.ColorRole.PlaceholderText))
        return None


class NoteFilterProxy(QSortFilterProxyModel):
    """Case-insensitive match of every word of the filter against title, folder and path."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._words: list[str] = []

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The view's header asks the proxy; the model sorts (the proxy keeps the model's order)."""
        self.sourceModel().sort(column, order)

    def set_filter_text(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+
            self.beginFilterChange()
            self._words = text.casefold().split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._words = text.casefold().split()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        index = model.index(source_row, 0, source_parent)
        haystack = " ".join(
            str(x or "") for x in (model.data(index), model.data(index.siblingAtColumn(1)), model.data(index, PathRole))
        ).casefold()
        return all(word in haystack for word in self._words)
