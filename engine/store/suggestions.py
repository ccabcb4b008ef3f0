"""The `suggestions` table: hashtags suggested for a note, and those its owner accepted or dismissed."""

from __future__ import annotations

import time

from .index_file import IndexFile


class Suggestions(IndexFile):
    """Fresh suggestions replace the old; an accepted or dismissed tag is remembered and never suggested again."""

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
