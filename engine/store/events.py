"""The `events` table: navigation from one note to another (a related note opened), recorded as it happens."""

from __future__ import annotations

import time

from .index_file import IndexFile
from .rows import path_of, stored_path


class Events(IndexFile):
    """Each event is a kind, the note it started from and the note it went to, with its time."""

    def record_event(self, kind: str, source_path: str, target_path: str) -> None:
        self.db.execute(
            "insert into events(kind, source_path, target_path, at) values (?, ?, ?, ?)",
            [kind, stored_path(source_path), stored_path(target_path), time.time()],
        )

    def events(self, kind: str | None = None) -> list[dict]:
        rows = (self.db.query("select * from events where kind = ? order by id", [kind]) if kind
                else self.db.query("select * from events order by id"))
        return [row | {"source_path": path_of(row["source_path"]), "target_path": path_of(row["target_path"])} for row in rows]
