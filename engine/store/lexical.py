"""Each note's lexical row (engine/lexical.py says what a row and a query are), and the term index kept in step with them."""

from __future__ import annotations

import logging
from pathlib import Path

from ..mentions import TitleIndex
from ..term_index import TermIndex
from .index_file import IndexFile
from .rows import marks
from .schema import LEXICAL_COMPLETE, LEXICAL_VERSION

log = logging.getLogger(__name__)


class LexicalRows(IndexFile):
    """The `lexical` table and its copy in memory; a read-only index does not save that copy beside itself."""

    _terms: TermIndex | None = None  # see term_index()
    _titles: TitleIndex | None = None  # see title_index()

    def set_lexical(self, note_id: int, body: str | None) -> None:
        """A note's lexical row: its terms, or none (a skipped note)."""
        self._titles = None  # a row is written when its note is, title and all
        if self._terms is not None:
            self._terms.remove(note_id, self.lexical_body(note_id))
            self._terms.add(note_id, body)
        self.db.execute("delete from lexical where rowid = ?", [note_id])
        if body:
            self.db.execute("insert into lexical(rowid, body) values (?, ?)", [note_id, body])

    def term_index(self) -> TermIndex:
        """The lexical rows in memory, to score queries by BM25 (engine/term_index.py), then kept up to
        date by this Store's own writes. Another process's writes are not seen until the index is opened
        again. Read from the rows once per version of them (about 1.4 s at 10,000 notes) and saved
        beside this file; while no row changes, later opens (each CLI command) load that copy instead."""
        if self._terms is None:
            self._terms = self._read_terms()
        return self._terms

    def title_index(self) -> TitleIndex:
        """The titles of the notes with a lexical row, to find the notes a note names (engine/mentions.py). Read
        once per change of the rows (about 0.04 s for 10,000 titles), and, like the term index, blind to another
        process's writes until the index is opened again."""
        if self._titles is None:
            self._titles = TitleIndex(self.db.execute("select notes.id, notes.title from notes join lexical on lexical.rowid = notes.id"))
        return self._titles

    @property
    def terms_path(self) -> Path:
        return terms_path(self.path)

    def _read_terms(self) -> TermIndex:
        snapshot = not self.db.conn.in_transaction
        if snapshot:
            self.db.execute("begin")  # the version and the rows it names, as of one moment
        try:
            version = self.get_meta(LEXICAL_VERSION)
            saved = TermIndex.load(self.terms_path, version) if version else None
            if saved is not None:
                return saved
            terms = TermIndex.of(self.db.execute("select rowid, body from lexical"))
        finally:
            if snapshot:
                self.db.execute("commit")
        if version and not self.read_only:
            try:
                terms.save(self.terms_path, version)
            except OSError as error:  # a full or read-only disk: the next open reads the rows again
                log.info("could not save the term index beside %s: %s", self.path, error)
        return terms

    def _rolled_back(self) -> None:
        super()._rolled_back()
        self._terms = self._titles = None

    def _forget_lexical_terms(self, ids: list[int]) -> None:
        """Before these notes' lexical rows are deleted: their terms leave the term index, if it is loaded."""
        self._titles = None
        if self._terms is not None:
            for note_id, body in self.lexical_bodies(ids).items():
                self._terms.remove(note_id, body)

    def lexical_body(self, note_id: int) -> str | None:
        row = self.db.execute("select body from lexical where rowid = ?", [note_id]).fetchone()
        return row[0] if row else None

    def lexical_bodies(self, ids: list[int]) -> dict[int, str]:
        """note id -> lexical row, for those of these notes that have one, in one query."""
        return dict(self.db.execute(f"select rowid, body from lexical where rowid in ({marks(ids)})", ids))

    def lexical_complete(self) -> bool:
        return self.get_meta(LEXICAL_COMPLETE, "1") == "1"

    def mark_lexical_complete(self) -> None:
        self.set_meta(LEXICAL_COMPLETE, "1")


def terms_path(path: Path) -> Path:
    """Where a Store at `path` saves its term index."""
    return path.with_name(path.name + ".terms.npz")
