"""What the index's rows hold, as Python reads and writes them: notes, paths, vectors and lists as stored."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np


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


NOTE_ROW = (
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


def note_row(row: tuple) -> NoteRow:
    """A NoteRow from a row selected as `NOTE_ROW`."""
    note_id, path, title, folder, mtime_ns, size, content_hash, tags, *rest, indexed = row
    return NoteRow(note_id, path_of(path), title, folder, mtime_ns, size, content_hash, json_list(tags), *rest, bool(indexed))


def json_list(stored: str | None) -> list:
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


def to_json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def marks(items: list) -> str:
    """One `?` per item, for `in (...)`."""
    return ",".join("?" * len(items))
