"""A lock file that lets one process at a time write a vault's index (or personalize it), through `filelock`."""

from __future__ import annotations

import os
from pathlib import Path

import filelock

# How long a writer waits for another process to let go of the lock before it reports the index busy.
WRITER_WAIT_SECONDS = 5.0


class FileLock:
    """Re-entrant within one object; exclusive between processes. The OS drops it if the process dies.

    While held, the file says which process holds it, for the message another process shows.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        # thread_local=False: one VaultIndex takes its writer lock from whichever thread writes;
        # preserve_lock_file: the file stays between holders, so it can always say who holds it;
        # mode 0600 like every other file of the index (it names a process of this user).
        self._lock = filelock.FileLock(self.path, mode=0o600, thread_local=False, preserve_lock_file=True,
                                       on_acquired=_write_holder)

    def acquire(self, timeout: float = 0.0) -> bool:
        """Whether the lock is ours (waiting up to `timeout` seconds for another process to let go)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=timeout)
        except filelock.Timeout:
            return False
        return True

    @property
    def depth(self) -> int:
        """How many times this object holds the lock now (0: not held)."""
        return self._lock.lock_counter

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown pid"
        except OSError:
            return "unknown pid"


def _write_holder(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}".encode())
