"""The index file's tables: numbered migrations, applied in order and recorded, and the meta keys they set."""

from __future__ import annotations

from typing import Callable

import sqlite_utils


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


def _migration_7(db: sqlite_utils.Database) -> None:
    """Each note's most frequent words are no longer kept: a related note's reason reads the words the two
    notes' lexical rows share, weighed by their rarity in the vault (engine/vault_index.py)."""
    db.execute("alter table notes drop column keywords")


EMBEDDER = "embedder"  # meta key: the embedder of the vectors readers use (engine/indexer.py's `embedder_id`)
EMBEDDER_MODEL = "embedder_model"  # meta key: the model file that embedder loads, to name it


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _migration_1),
    ("002_suggested_for", _migration_2),
    ("003_lexical", _migration_3),
    ("004_lexical_plain", _migration_4),
    ("005_lexical_version", _migration_5),
    ("006_switch_vectors", _migration_6),
    ("007_no_keywords", _migration_7),
]
