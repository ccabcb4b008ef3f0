"""The `links` table: which notes link which, resolved by the indexer from the links each note wrote."""

from __future__ import annotations

import json
from typing import Iterable

from .index_file import IndexFile
from .rows import LinkSource, path_of
from .schema import LINKS_STALE


class Links(IndexFile):
    """Links as written (read from the notes' rows), and the resolved pairs, rebuilt whole when stale."""

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

    def link_targets(self) -> dict[int, set[int]]:
        """Each note that links to another indexed note: the notes it links to (links to itself left out)."""
        rows = self.db.execute(
            """select l.source_id, l.target_id from links l join notes n on n.id = l.target_id
               where l.source_id != l.target_id and n.skip_reason is null and n.embedding is not null"""
        )
        targets: dict[int, set[int]] = {}
        for source, target in rows:
            targets.setdefault(source, set()).add(target)
        return targets

    def linked_ids(self, note_id: int) -> set[int]:
        rows = self.db.execute(
            "select target_id from links where source_id = ? union select source_id from links where target_id = ?",
            [note_id, note_id],
        )
        return {row[0] for row in rows}
