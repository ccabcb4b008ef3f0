"""The index's SQLite file: notes, their vectors, links, tag suggestions and navigation events.

SQLite is the source of truth; the USearch file (engine/vectors.py) can always be rebuilt from the
`embedding` blobs here. Schema changes are numbered migrations (schema.py), applied in order and recorded.
Every SQL statement of the engine lives in this package: one module per kind of row, each a part of `Store`,
all sharing one connection (index_file.py).
"""

from __future__ import annotations

from pathlib import Path

from .events import Events
from .index_file import IndexFile
from .lexical import LexicalRows, terms_path
from .links import Links
from .model_switch import ModelSwitch
from .notes import Notes
from .rows import KnownFile, LinkSource, NoteContent, NoteRow, decode_vector, encode_vector, path_of, stored_path
from .schema import EMBEDDER, EMBEDDER_MODEL, LEXICAL_COMPLETE, LEXICAL_VERSION, LINKS_STALE, MIGRATIONS
from .scratch_fts import ScratchFTS
from .status import Status
from .suggestions import Suggestions
from .vectors import Vectors

__all__ = [
    "EMBEDDER", "EMBEDDER_MODEL", "LEXICAL_COMPLETE", "LEXICAL_VERSION", "LINKS_STALE", "MIGRATIONS",
    "KnownFile", "LinkSource", "NoteContent", "NoteRow", "ScratchFTS", "Store",
    "decode_vector", "encode_vector", "path_of", "stored_path",
]


class Store(ModelSwitch, Notes, LexicalRows, Vectors, Links, Suggestions, Events, Status, IndexFile):
    """One vault's SQLite index file; `read_only` opens an existing one without migrating or writing
    (nor saving the term index beside it): for an index on a read-only disk or in a read-only file."""

    @staticmethod
    def files_of(path: Path) -> list[Path]:
        """Every file a Store at `path` may write: the SQLite file, SQLite's own beside it, the saved terms."""
        terms = terms_path(path)
        return [*IndexFile.sqlite_files_of(path), terms, terms.with_name(terms.name + ".tmp")]  # TermIndex.save's temp file
