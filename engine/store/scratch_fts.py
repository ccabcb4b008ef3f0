"""A throwaway in-memory FTS5 table that scores a fixed list of documents by BM25, for the evaluation's baselines."""

from __future__ import annotations

import sqlite3
from typing import Iterable

from .rows import marks


class ScratchFTS:
    """A throwaway in-memory FTS5 table over a fixed list of documents, to score them by BM25.

    The evaluation's baselines use it, so that SQL stays in this package. Rows are numbered by their
    position in `rows`; each row holds one value per column."""

    def __init__(self, columns: tuple[str, ...], tokenizer: str, rows: Iterable[tuple]):
        self._db = sqlite3.connect(":memory:")
        names = ", ".join(columns)
        self._db.execute(f"create virtual table docs using fts5({names}, tokenize='{tokenizer}')")
        self._db.executemany(f"insert into docs(rowid, {names}) values (?, {marks(list(columns))})",
                             [(i, *row) for i, row in enumerate(rows)])

    def matches(self, match: str) -> list[tuple[int, float]]:
        """(row position, BM25 score, higher is better) of every row matching an FTS5 expression."""
        return [(rowid, -score) for rowid, score in self._db.execute("select rowid, bm25(docs) from docs where docs match ?", [match])]

    def close(self) -> None:
        self._db.close()
