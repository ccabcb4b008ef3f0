"""One open index file: its connection, migrations, meta values and transactions, which every part of `Store` shares."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Callable

import sqlite_utils

from ..errors import IndexCorruptError, ReadOnlyIndexError
from ..storage_errors import storage_error
from .schema import MIGRATIONS


class IndexFile:
    """One vault's SQLite index file; `read_only` opens an existing one without migrating or writing."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
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

    @staticmethod
    def sqlite_files_of(path: Path) -> list[Path]:
        """The SQLite file at `path` and SQLite's own files beside it."""
        return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]

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

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("insert into meta(key, value) values(?, ?) on conflict(key) do update set value = excluded.value", [key, value])

    def delete_meta(self, key: str) -> None:
        self.db.execute("delete from meta where key = ?", [key])

    def transaction(self):
        """`with store.transaction():` — one atomic write (BEGIN IMMEDIATE … COMMIT)."""
        return _Transaction(self.db.conn, on_rollback=self._rolled_back)

    def _rolled_back(self) -> None:
        """A transaction was rolled back: a part that keeps something in step with the rows forgets it here."""


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
