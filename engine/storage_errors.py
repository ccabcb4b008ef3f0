"""Say in one line what a failed read or write of the index (or of a note) means: a damaged file, a
full disk, a read-only place, a permission or a failing disk. Only a damaged file is worth
`--rebuild`; for the others it would set a healthy index aside."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from .errors import DiskError, DiskFullError, NoteLLMError, ReadOnlyIndexError, WriteRefusedError

NEARLY_FULL_BYTES = 1 << 20  # an I/O error with less free space than this is taken for a full disk
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}


def is_corruption(error: sqlite3.DatabaseError) -> bool:
    """A damaged database file, as opposed to a busy one, a full or failing disk, or a bad query."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    return type(error) is sqlite3.DatabaseError and any(
        words in str(error) for words in ("malformed", "not a database", "corrupt")
    )


def mount_point(path: str | os.PathLike) -> Path:
    """The folder where the file system holding `path` is mounted, as `df` names it."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current):
        current = current.parent
    return current


def disk_full_error(path: str | os.PathLike) -> DiskFullError:
    return DiskFullError(f"disk full: free space on {mount_point(path)} and run the command again")


def read_only_error(path: str | os.PathLike) -> ReadOnlyIndexError:
    return ReadOnlyIndexError(
        f"the index at {path} is read-only: related, search, tags and status work; make it writable to reindex, "
        "apply tags or watch"
    )


def _nearly_full(path: str | os.PathLike) -> bool:
    try:
        return shutil.disk_usage(mount_point(path)).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def storage_error(error: BaseException, path: str | os.PathLike) -> NoteLLMError | None:
    """The one-line error for `error` met while reading or writing `path` (the index's file or folder,
    or a note); None when `error` is not about the disk. SQLite reports a full disk as SQLITE_FULL, or
    as an I/O error when it fails to grow its WAL or shared-memory file: free space decides which."""
    if isinstance(error, OSError):
        where = error.filename or path
        if error.errno in _DISK_FULL_ERRNOS:
            return disk_full_error(where)
        if error.errno == errno.EROFS:
            return read_only_error(path)
        if error.errno == errno.EIO:
            return _io_error(where, error)
        if error.errno in _PERMISSION_ERRNOS:
            return _access_error(where, error.strerror)
        return None
    if isinstance(error, sqlite3.DatabaseError):
        name = getattr(error, "sqlite_errorname", "") or ""
        if name == "SQLITE_FULL":
            return disk_full_error(path)
        if name.startswith("SQLITE_READONLY"):
            return read_only_error(path)
        if name.startswith("SQLITE_IOERR"):
            return _io_error(path, error)
        if name.startswith("SQLITE_CANTOPEN"):  # a missing folder or a permission: nothing a rebuild mends
            return _access_error(path, str(error))
    return None


def _access_error(path: str | os.PathLike, why: str) -> DiskError:
    return DiskError(f"could not open {path} ({why}): check that you may read and write it, then run the command again")


def note_write_error(error: OSError, note: str | os.PathLike) -> NoteLLMError | None:
    """The one-line error for `error` met while writing a note (a tag being applied), or None."""
    if error.errno == errno.EROFS or error.errno in _PERMISSION_ERRNOS:
        return WriteRefusedError(f"{note} can't be written ({error.strerror}); it was left as it was")
    return storage_error(error, note)


def _io_error(path: str | os.PathLike, error: BaseException) -> NoteLLMError:
    if _nearly_full(path):
        return disk_full_error(path)
    return DiskError(
        f"could not read or write {path} ({error}): check the disk at {mount_point(path)}, then run the command again"
    )
