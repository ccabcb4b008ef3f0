"""The index's SQLite file: notes, their vectors, links, tag suggestions and navigation events.

SQLite is the source of truth; the USearch file (see vectors.py) can always be rebuilt from the
`embedding` blobs here. Schema changes are numbered migrations, applied in order and recorded.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import sqlite_utils

from .errors import IndexCorruptError, ReadOnlyIndexError
from .storage_errors import storage_error
from .term_index import TermIndex

log = logging.getLogger(__name__)


def _migration_1(db: sqlite_utils.Database) -> None:
    db["notes"].create(
        {
            "id": int,
            "path": str,
            "title": str,
            "folder": str,
            "mtime_ns": int,
            "size": int,
            "content_hash": str,
            "text_hash": str,
            "tags": str,
            "aliases": str,
            "category": str,
            "links": str,
            "keywords": str,
            "warning": str,
            "skip_reason": str,
            "embedding": bytes,
            "embedded_with": str,
            "indexed_at": float,
        },
        pk="id",
        not_null={"path"},
    )
    db["notes"].create_index(["path"], unique=True)
    db["notes"].create_index(["content_hash"])
    db["links"].create({"source_id": int, "target_id": int}, pk=("source_id", "target_id"))
    db["links"].create_index(["target_id"])
    db["suggestions"].create(
        {"note_id": int, "tag_key": str, "tag": str, "status": str, "content_hash": str, "created_at": float},
        pk=("note_id", "tag_key"),
    )
    db["events"].create({"id": int, "kind": str, "source_path": str, "target_path": str, "at": float}, pk="id")
    db["meta"].create({"key": str, "value": str}, pk="key")


def _migration_2(db: sqlite_utils.Database) -> None:
    """Remember which version of a note suggestions were generated for, even when there were none."""
    db.execute("alter table notes add column suggested_for text")


LEXICAL_COMPLETE = "lexical_complete"  # meta key: every indexed note has its lexical row
LINKS_STALE = "links_stale"  # meta key: notes changed since the links table was last rebuilt


def _migration_3(db: sqlite_utils.Database) -> None:
    """The words of each note for lexical matching (FTS5, rowid = note id); an existing index fills it on
    its next reindex, which reads every note once more without embedding any."""
    db.execute("create virtual table lexical using fts5(body, tokenize='unicode61 remove_diacritics 2')")
    has_notes = db.execute("select 1 from notes limit 1").fetchone() is not None
    db.execute("insert or replace into meta(key, value) values (?, ?)", [LEXICAL_COMPLETE, "0" if has_notes else "1"])


def _migration_4(db: sqlite_utils.Database) -> None:
    """Lexical rows move from the FTS5 table to a plain one: related notes score them in memory
    (engine/term_index.py), so FTS5's own index of them was written on every change and never read."""
    db.execute("create table lexical_rows (id integer primary key, body text not null)")
    db.execute("insert into lexical_rows(id, body) select rowid, body from lexical")
    db.execute("drop table lexical")
    db.execute("alter table lexical_rows rename to lexical")


LEXICAL_VERSION = "lexical_version"  # meta key: a new random value on every change to the lexical rows


def _migration_5(db: sqlite_utils.Database) -> None:
    """Every change to the lexical rows, by any code and any process, gives them a new version: a copy
    of the term index saved beside this file is used only while its version is theirs. Random, not a
    counter: an index rebuilt from scratch must not match a copy saved for the one before it."""
    db.execute("insert or replace into meta(key, value) values (?, hex(randomblob(8)))", [LEXICAL_VERSION])
    for event in ("insert", "update", "delete"):
        db.execute(
            f"create trigger lexical_after_{event} after {event} on lexical begin "
            f"update meta set value = hex(randomblob(8)) where key = '{LEXICAL_VERSION}'; end"
        )


def _migration_6(db: sqlite_utils.Database) -> None:
    """The vectors of a model switch under way, kept beside the notes' own until every note has one:
    readers use the index's model's vectors until the switch puts all the new ones in their place at once."""
    db.execute("create table switch_vectors (id integer primary key, text_hash text not null, embedded_with text not null, "
               "embedding blob not null)")


EMBEDDER = "embedder"  # meta key: the embedder of the vectors readers use (engine/indexer.py's `embedder_id`)
EMBEDDER_MODEL = "embedder_model"  # meta key: the model file that embedder loads, to name it


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _migration_1),
    ("002_suggested_for", _migration_2),
    ("003_lexical", _migration_3),
    ("004_lexical_plain", _migration_4),
    ("005_lexical_version", _migration_5),
    ("006_switch_vectors", _migration_6),
]


@dataclass(slots=True)  # not frozen: the app lists every note on each progress step, and frozen rows build ~3x slower
class NoteRow:
    """One path as the index knows it: a note, or a skipped file with its reason; tags decoded."""

    id: int
    path: str
    title: str
    folder: str
    mtime_ns: int | None
    size: int | None
    content_hash: str | None  # of the file's bytes; None for a skipped path
    tags: list[str]
    warning: str | None  # e.g. broken frontmatter (the body is still indexed)
    skip_reason: str | None
    embedded_with: str | None  # the embedder of the current vector; None while the note waits for one
    suggested_for: str | None  # the content hash hashtags were last suggested for
    indexed: bool  # has a vector (possibly an older version's, while a changed note waits)


_NOTE_ROW = (
    "id, path, title, folder, mtime_ns, size, content_hash, tags, warning, skip_reason, embedded_with, suggested_for, "
    "embedding is not null as indexed"
)


def stored_path(path: str) -> str | bytes:
    """A vault path as SQLite keeps it: text, or, for a file name that is not UTF-8 (which Python reads
    with surrogate escapes), its raw bytes as a blob. No text equals a blob, so the two never collide,
    and `path_of` gives the very path back: lossless and reversible."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def path_of(stored: str | bytes) -> str:
    """The vault path `stored_path` kept."""
    return os.fsdecode(stored) if isinstance(stored, bytes) else stored


def _note_row(row: tuple) -> NoteRow:
    note_id, path, title, folder, mtime_ns, size, content_hash, tags, *rest, indexed = row
    return NoteRow(note_id, path_of(path), title, folder, mtime_ns, size, content_hash, _json_list(tags), *rest, bool(indexed))


def _json_list(stored: str | None) -> list:
    return json.loads(stored) if stored and stored != "[]" else []


@dataclass(frozen=True)
class NoteContent:
    """What the indexer read from a note file, as its row stores it."""

    title: str
    folder: str
    mtime_ns: int
    size: int
    content_hash: str
    text_hash: str  # of what the model reads: equal hashes need no new embedding
    tags: list[str]
    aliases: list[str]
    category: str | None
    links: list[tuple[str, str]]  # (target, kind) as written, resolved by the indexer
    keywords: list[str]
    warning: str | None


@dataclass(frozen=True)
class KnownFile:
    """What the index remembers of a path, to tell whether the file changed since."""

    id: int
    mtime_ns: int | None
    size: int | None
    embedded_with: str | None
    skip_reason: str | None

    def differs_from(self, mtime_ns: int, size: int) -> bool:
        return (self.mtime_ns, self.size) != (mtime_ns, size)


@dataclass(frozen=True)
class LinkSource:
    """A note's links as written and the aliases other notes may link it by."""

    id: int
    path: str
    aliases: list[str]
    links: list[tuple[str, str]]  # (target, kind)


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _marks(items: list) -> str:
    return ",".join("?" * len(items))


class Store:
    """One vault's SQLite index file; `read_only` opens an existing one without migrating or writing
    (nor saving the term index beside it): for an index on a read-only disk or in a read-only file."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self._terms: TermIndex | None = None  # see term_index()
        try:
            if read_only:
                self.db = sqlite_utils.Database(_read_only_connection(self.path))
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Readable by this user only; SQLite gives its -wal and -shm files the same permissions.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            connection = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
            self.db = sqlite_utils.Database(connection)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except (sqlite3.DatabaseError, OSError) as error:
            if getattr(self, "db", None) is not None:
                self.db.conn.close()  # its files' space comes back only once they are closed
            if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                raise
            if (disk := storage_error(error, self.path)) is not None:
                raise disk from error
            if isinstance(error, OSError):
                raise
            raise IndexCorruptError(
                f"the index at {self.path} is unreadable ({error}); rebuild it with `notellm-engine reindex VAULT --rebuild`"
            ) from error
        if os.name != "nt":
            for name in ("", "-wal", "-shm"):
                extra = Path(f"{self.path}{name}")
                if extra.exists() and extra.stat().st_mode & 0o077:
                    os.chmod(extra, 0o600)

    def migrate(self) -> None:
        """Apply the migrations not yet recorded, each in one transaction with its record: a failed one
        (a full disk) leaves no half of it behind, and the next open applies it whole."""
        if "_migrations" not in self.db.table_names():
            self.db["_migrations"].create({"name": str, "applied_at": float}, pk="name")
        applied = {row["name"] for row in self.db["_migrations"].rows}
        for name, migration in MIGRATIONS:
            if name in applied:
                continue
            with self.transaction():
                migration(self.db)
                self.db.execute("insert into _migrations(name, applied_at) values (?, ?)", [name, time.time()])

    def pending_migrations(self) -> list[str]:
        """The migrations this file lacks (a read-only file keeps them pending)."""
        applied = {row["name"] for row in self.db["_migrations"].rows} if "_migrations" in self.db.table_names() else set()
        return [name for name, _ in MIGRATIONS if name not in applied]

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("insert into meta(key, value) values(?, ?) on conflict(key) do update set value = excluded.value", [key, value])

    def transaction(self):
        """`with store.transaction():` — one atomic write (BEGIN IMMEDIATE … COMMIT)."""
        return _Transaction(self.db.conn, on_rollback=self._forget_terms)

    # --- notes ----------------------------------------------------------------------------
    def notes(self) -> list[NoteRow]:
        """Every path in the index, skipped ones included, sorted by path."""
        return [_note_row(row) for row in self.db.execute(f"select {_NOTE_ROW} from notes order by path")]

    def note(self, path: str) -> NoteRow | None:
        """The row at this vault path, matched exactly, else ignoring case."""
        path = stored_path(path)
        row = self.db.execute(f"select {_NOTE_ROW} from notes where path = ? limit 1", [path]).fetchone()
        if row is None:
            row = self.db.execute(f"select {_NOTE_ROW} from notes where path = ? collate nocase limit 1", [path]).fetchone()
        return _note_row(row) if row else None

    def notes_by_ids(self, ids: list[int]) -> dict[int, NoteRow]:
        if not ids:
            return {}
        rows = self.db.execute(f"select {_NOTE_ROW} from notes where id in ({_marks(ids)})", ids)
        return {row[0]: _note_row(row) for row in rows}

    def keywords(self, ids: list[int]) -> dict[int, list[str]]:
        """The key terms of these notes (engine/keywords.py), to say why two notes are related."""
        if not ids:
            return {}
        rows = self.db.execute(f"select id, keywords from notes where id in ({_marks(ids)})", ids)
        return {note_id: _json_list(keywords) for note_id, keywords in rows}

    def known_files(self) -> dict[str, KnownFile]:
        rows = self.db.execute("select path, id, mtime_ns, size, embedded_with, skip_reason from notes")
        return {path_of(path): KnownFile(*rest) for path, *rest in rows}

    def reusable_id(self, path: str, text_hash: str, embedded_with: str) -> int | None:
        """The note at `path` if its vector was made by this embedder from this very text."""
        row = self.db.execute(
            "select id from notes where path = ? and text_hash = ? and embedded_with = ? and embedding is not null",
            [stored_path(path), text_hash, embedded_with],
        ).fetchone()
        return row[0] if row else None

    def rename_candidates(self, ids: list[int], embedded_with: str) -> dict[str, int]:
        """text hash -> id, among these notes, of those embedded by this embedder (a new path with the
        same text is the same note moved)."""
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.db.execute(
                f"select text_hash, id from notes where id in ({_marks(chunk)}) and embedded_with = ? order by id",
                [*chunk, embedded_with],
            )
            for digest, note_id in rows:
                found.setdefault(digest, note_id)
        return found

    def embedded_ids(self, paths: list[str]) -> list[int]:
        """The ids of the notes at these paths that have a vector."""
        return self.ids_at(paths, embedded=True)

    def ids_at(self, paths: list[str], embedded: bool = False) -> list[int]:
        """The ids of the rows at these paths (with `embedded`, only those that have a vector)."""
        condition = " and embedding is not null" if embedded else ""
        ids = []
        for start in range(0, len(paths), 500):
            chunk = [stored_path(path) for path in paths[start:start + 500]]
            ids += [row[0] for row in self.db.execute(f"select id from notes where path in ({_marks(chunk)}){condition}", chunk)]
        return ids

    def still_at(self, paths: dict[str, int]) -> list[int]:
        """The ids among `paths` (path -> id) whose row is still at that path (not renamed meanwhile)."""
        return [
            note_id for path, note_id in paths.items()
            if self.db.execute("select 1 from notes where id = ? and path = ?", [note_id, stored_path(path)]).fetchone()
        ]

    # Writes below are plain SQL so that they join the caller's transaction (see `transaction`).
    def _upsert(self, record: dict) -> int:
        record = record | {"path": stored_path(record["path"])}
        columns = list(record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "path")
        self.db.execute(
            f"insert into notes({', '.join(columns)}) values ({_marks(columns)}) on conflict(path) do update set {updates}",
            [record[c] for c in columns],
        )
        return self.db.execute("select id from notes where path = ?", [record["path"]]).fetchone()[0]

    @staticmethod
    def _content_columns(content: NoteContent) -> dict:
        return {
            "title": content.title,
            "folder": content.folder,
            "mtime_ns": content.mtime_ns,
            "size": content.size,
            "content_hash": content.content_hash,
            "text_hash": content.text_hash,
            "tags": _json(content.tags),
            "aliases": _json(content.aliases),
            "category": content.category,
            "links": _json([list(link) for link in content.links]),
            "keywords": _json(content.keywords),
            "warning": content.warning,
            "skip_reason": None,
            "indexed_at": time.time(),
        }

    def list_note(self, path: str, content: NoteContent) -> int:
        """Record a note that waits for its vector; a changed note keeps its previous vector meanwhile."""
        return self._upsert({"path": path, **self._content_columns(content), "embedded_with": None})

    def store_embedding(self, path: str, content: NoteContent, vector: np.ndarray, embedded_with: str) -> int:
        return self._upsert(
            {"path": path, **self._content_columns(content), "embedding": encode_vector(vector), "embedded_with": embedded_with}
        )

    def update_note(self, note_id: int, content: NoteContent, path: str | None = None) -> None:
        """New metadata for a note whose vector still holds (its text is unchanged), moved to `path` if given."""
        record = self._content_columns(content) | ({"path": stored_path(path)} if path is not None else {})
        assignments = ", ".join(f"{c} = ?" for c in record)
        self.db.execute(f"update notes set {assignments} where id = ?", [*record.values(), note_id])

    def mark_skipped(self, path: str, title: str, folder: str, reason: str, mtime_ns: int, size: int) -> int:
        """Record why a path is not indexed; its vector and words, if it had them, are dropped."""
        note_id = self._upsert({
            "path": path, "title": title, "folder": folder, "mtime_ns": mtime_ns, "size": size, "content_hash": None,
            "text_hash": None, "skip_reason": reason, "embedding": None, "embedded_with": None, "indexed_at": time.time(),
        })
        self.set_lexical(note_id, None)
        return note_id

    def delete_notes(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            if self._terms is not None:
                for note_id, body in self.db.execute(f"select rowid, body from lexical where rowid in ({_marks(chunk)})", chunk):
                    self._terms.remove(note_id, body)
            for table, column in (("links", "source_id"), ("links", "target_id"), ("suggestions", "note_id"), ("lexical", "rowid"),
                                  ("switch_vectors", "id"), ("notes", "id")):
                self.db.execute(f"delete from {table} where {column} in ({_marks(chunk)})", chunk)

    # --- lexical matching (engine/lexical.py says what a row and a query are) ----------------------
    def set_lexical(self, note_id: int, body: str | None) -> None:
        """A note's lexical row: its terms, or none (a skipped note)."""
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

    @property
    def terms_path(self) -> Path:
        return _terms_path(self.path)

    @staticmethod
    def files_of(path: Path) -> list[Path]:
        """Every file a Store at `path` may write: the SQLite file, SQLite's own beside it, the saved terms."""
        terms = _terms_path(path)
        return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")),
                terms, terms.with_name(terms.name + ".tmp")]  # TermIndex.save's temp file

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

    def _forget_terms(self) -> None:
        self._terms = None

    def lexical_body(self, note_id: int) -> str | None:
        row = self.db.execute("select body from lexical where rowid = ?", [note_id]).fetchone()
        return row[0] if row else None

    def lexical_complete(self) -> bool:
        return self.get_meta(LEXICAL_COMPLETE, "1") == "1"

    def mark_lexical_complete(self) -> None:
        self.set_meta(LEXICAL_COMPLETE, "1")

    # --- vectors --------------------------------------------------------------------------
    def iter_embeddings(self, dimensions: int, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the notes whose vector has this many dimensions (an index left with two widths by
        a switch that a version before switch vectors did not finish still opens; its next reindex mends it)."""
        last_id = -1
        while True:
            rows = self.db.execute(
                "select id, embedding from notes where embedding is not null and length(embedding) = ? and id > ? order by id limit ?",
                [4 * dimensions, last_id, batch],
            ).fetchall()
            if not rows:
                return
            ids = np.array([row[0] for row in rows], dtype=np.uint64)
            vectors = np.stack([decode_vector(row[1]) for row in rows])
            yield ids, vectors
            last_id = rows[-1][0]

    # --- the index's model, and a switch to another --------------------------------------------
    def embedder(self) -> str | None:
        """The embedder of the vectors readers use; None before the first. An index made before it was
        recorded: the one that made most of its vectors."""
        recorded = self.get_meta(EMBEDDER)
        if recorded is not None:
            return recorded
        row = self.db.execute(
            "select embedded_with from notes where embedded_with is not null and embedding is not null "
            "group by embedded_with order by count(*) desc limit 1"
        ).fetchone()
        return row[0] if row else None

    def embedder_model(self) -> str | None:
        """The model file the index's embedder loads, as its path was given; None if not recorded."""
        return self.get_meta(EMBEDDER_MODEL)

    def set_embedder(self, embedded_with: str, model: str) -> None:
        self.set_meta(EMBEDDER, embedded_with)
        self.set_meta(EMBEDDER_MODEL, model)

    def switch_vector_id(self, path: str, text_hash: str, embedded_with: str) -> int | None:
        """The note at `path` if a switch to this embedder already made its vector from this very text."""
        row = self.db.execute(
            "select n.id from notes n join switch_vectors s on s.id = n.id where n.path = ? and s.text_hash = ? and s.embedded_with = ?",
            [stored_path(path), text_hash, embedded_with],
        ).fetchone()
        return row[0] if row else None

    def store_switch_vector(self, path: str, content: NoteContent, vector: np.ndarray, embedded_with: str) -> int:
        """A switch's vector for this note, kept beside the note's own (which readers go on using); the row
        itself takes the note as it is now."""
        note_id = self._upsert({"path": path, **self._content_columns(content)})
        self.db.execute(
            "insert or replace into switch_vectors(id, text_hash, embedded_with, embedding) values (?, ?, ?, ?)",
            [note_id, content.text_hash, embedded_with, encode_vector(vector)],
        )
        return note_id

    def switch_complete(self, embedded_with: str) -> bool:
        """Whether every indexable note has a switch vector of this embedder for its current text."""
        missing = self.db.execute(
            "select 1 from notes n where n.skip_reason is null and not exists (select 1 from switch_vectors s "
            "where s.id = n.id and s.embedded_with = ? and s.text_hash = n.text_hash) limit 1",
            [embedded_with],
        ).fetchone()
        return missing is None

    def finish_switch(self, embedded_with: str, model: str) -> int | None:
        """In the caller's transaction (after `switch_complete`): the switch's vectors replace the notes' own,
        all at once, and their embedder becomes the index's. Returns their dimensions (None: no notes)."""
        row = self.db.execute("select length(embedding) / 4 from switch_vectors where embedded_with = ? limit 1",
                              [embedded_with]).fetchone()
        self.db.execute(
            "update notes set embedding = (select s.embedding from switch_vectors s where s.id = notes.id), embedded_with = ? "
            "where skip_reason is null",
            [embedded_with],
        )
        self.db.execute("delete from switch_vectors")
        self.set_embedder(embedded_with, model)
        return row[0] if row else None

    def embedding_of(self, note_id: int) -> np.ndarray | None:
        row = self.db.execute("select embedding from notes where id = ?", [note_id]).fetchone()
        return decode_vector(row[0]) if row and row[0] is not None else None

    def vault_tags(self) -> list[str]:
        counts: dict[str, int] = {}
        for (tags,) in self.db.execute("select tags from notes where tags is not null and tags != '[]'"):
            for tag in json.loads(tags):
                counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts, key=lambda tag: -counts[tag])

    def tagged_share(self) -> float:
        """The share of indexable notes that carry a tag (0 for an empty vault)."""
        tagged, notes = self.db.execute(
            "select coalesce(sum(tags is not null and tags != '[]'), 0), count(*) from notes where skip_reason is null").fetchone()
        return tagged / notes if notes else 0.0

    # --- links ----------------------------------------------------------------------------
    def link_sources(self) -> list[LinkSource]:
        """Every indexable note's links as written, with its aliases."""
        rows = self.db.execute("select id, path, aliases, links from notes where skip_reason is null")
        return [
            LinkSource(note_id, path_of(path), json.loads(aliases or "[]"), [(target, kind) for target, kind in json.loads(links or "[]")])
            for note_id, path, aliases, links in rows
        ]

    def replace_links(self, pairs: Iterable[tuple[int, int]]) -> None:
        self.db.execute("delete from links")
        self.db.conn.executemany("insert or ignore into links(source_id, target_id) values (?, ?)", pairs)
        self.set_meta(LINKS_STALE, "0")

    def links_stale(self) -> bool:
        return self.get_meta(LINKS_STALE, "0") == "1"

    def mark_links_stale(self) -> None:
        self.set_meta(LINKS_STALE, "1")

    def linked_ids(self, note_id: int) -> set[int]:
        rows = self.db.execute(
            "select target_id from links where source_id = ? union select source_id from links where target_id = ?",
            [note_id, note_id],
        )
        return {row[0] for row in rows}

    # --- suggestions and events -----------------------------------------------------------
    def suggestions(self, note_id: int) -> list[dict]:
        return list(self.db.query("select tag, tag_key, status, content_hash from suggestions where note_id = ? order by rowid", [note_id]))

    def replace_suggestions(self, note_id: int, content_hash: str, tags: list[tuple[str, str]]) -> None:
        """Store fresh suggestions; dismissed and accepted ones are remembered, not re-suggested."""
        with self.transaction():
            self.db.execute("delete from suggestions where note_id = ? and status = 'suggested'", [note_id])
            now = time.time()
            self.db.conn.executemany(
                "insert or ignore into suggestions(note_id, tag_key, tag, status, content_hash, created_at) values (?, ?, ?, 'suggested', ?, ?)",
                [(note_id, key, tag, content_hash, now) for tag, key in tags],
            )
            self.db.execute("update notes set suggested_for = ? where id = ?", [content_hash, note_id])

    def set_suggestion_status(self, note_id: int, tag: str, key: str, status: str) -> None:
        self.db.execute(
            "insert into suggestions(note_id, tag_key, tag, status, content_hash, created_at) values (?, ?, ?, ?, null, ?) "
            "on conflict(note_id, tag_key) do update set status = excluded.status",
            [note_id, key, tag, status, time.time()],
        )

    def record_event(self, kind: str, source_path: str, target_path: str) -> None:
        self.db.execute(
            "insert into events(kind, source_path, target_path, at) values (?, ?, ?, ?)",
            [kind, stored_path(source_path), stored_path(target_path), time.time()],
        )

    def events(self, kind: str | None = None) -> list[dict]:
        rows = (self.db.query("select * from events where kind = ? order by id", [kind]) if kind
                else self.db.query("select * from events order by id"))
        return [row | {"source_path": path_of(row["source_path"]), "target_path": path_of(row["target_path"])} for row in rows]

    # --- status ---------------------------------------------------------------------------
    def counts(self, embedded_with: str) -> dict[str, int]:
        row = self.db.execute(
            """select count(*) filter (where skip_reason is null and embedded_with = :m and embedding is not null),
                      count(*) filter (where skip_reason is null and (embedded_with is not :m or embedding is null)),
                      count(*) filter (where skip_reason is not null)
               from notes""",
            {"m": embedded_with},
        ).fetchone()
        return {"indexed": row[0], "needs_embedding": row[1], "skipped": row[2]}

    def skipped(self) -> list[dict]:
        rows = self.db.query("select path, skip_reason as reason from notes where skip_reason is not null order by path")
        return [row | {"path": path_of(row["path"])} for row in rows]

    def warnings(self) -> list[dict]:
        rows = self.db.query("select path, warning from notes where warning is not null order by path")
        return [row | {"path": path_of(row["path"])} for row in rows]


def _terms_path(path: Path) -> Path:
    return path.with_name(path.name + ".terms.npz")


def _read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that never writes: `mode=ro` reads the WAL too, but needs SQLite's shared-memory
    file, which it can't create in a read-only folder; `immutable=1` then reads the main file alone,
    which holds everything once the last writer closed (SQLite checkpoints the WAL into it)."""
    if not path.exists():
        raise ReadOnlyIndexError(f"there is no index at {path.parent} yet, and none can be made there: it is read-only")
    uri = path.resolve().as_uri()
    connection = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    try:
        connection.execute("select count(*) from sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError:
        connection.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=30, check_same_thread=False)


class _Transaction:
    def __init__(self, connection: sqlite3.Connection, on_rollback: Callable[[], None]):
        self.connection, self.on_rollback = connection, on_rollback

    def __enter__(self):
        self.connection.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.connection.execute("COMMIT")
                return False
            except sqlite3.Error:  # e.g. a full disk: the transaction may still be open, and must not stay so
                self._roll_back()
                raise
        self._roll_back()
        return False

    def _roll_back(self) -> None:
        if self.connection.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
            self.connection.execute("ROLLBACK")
        self.on_rollback()  # what Python kept in step with the rows is no longer


class ScratchFTS:
    """A throwaway in-memory FTS5 table over a fixed list of documents, to score them by BM25.

    The evaluation's baselines use it, so that SQL stays in this module. Rows are numbered by their
    position in `rows`; each row holds one value per column."""

    def __init__(self, columns: tuple[str, ...], tokenizer: str, rows: Iterable[tuple]):
        self._db = sqlite3.connect(":memory:")
        names = ", ".join(columns)
        self._db.execute(f"create virtual table docs using fts5({names}, tokenize='{tokenizer}')")
        self._db.executemany(f"insert into docs(rowid, {names}) values (?, {_marks(list(columns))})",
                             [(i, *row) for i, row in enumerate(rows)])

    def matches(self, match: str) -> list[tuple[int, float]]:
        """(row position, BM25 score, higher is better) of every row matching an FTS5 expression."""
        return [(rowid, -score) for rowid, score in self._db.execute("select rowid, bm25(docs) from docs where docs match ?", [match])]

    def close(self) -> None:
        self._db.close()
