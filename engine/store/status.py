"""What `status` reports of the index: how many notes are indexed, wait for a vector or were skipped, and why."""

from __future__ import annotations

from .index_file import IndexFile
from .rows import path_of


class Status(IndexFile):
    """Counts and lists over the notes' rows, for the CLI's and the app's status."""

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
