"""Back and forward through the notes a reader has shown, as in a web browser (no Qt)."""

from __future__ import annotations


class History:
    def __init__(self) -> None:
        self._back: list[str] = []
        self._forward: list[str] = []

    @property
    def can_go_back(self) -> bool:
        return bool(self._back)

    @property
    def can_go_forward(self) -> bool:
        return bool(self._forward)

    def visit(self, current: str | None, target: str) -> None:
        """`target` replaces `current` on screen: `current` can be gone back to, and nothing is ahead any more."""
        if current and current != target:
            self._back.append(current)
            self._forward.clear()

    def back(self, current: str | None) -> str | None:
        """The note to go back to from `current` (None if there is none); forward returns to `current`."""
        return self._step(self._back, self._forward, current)

    def forward(self, current: str | None) -> str | None:
        return self._step(self._forward, self._back, current)

    def clear(self) -> None:
        self._back.clear()
        self._forward.clear()

    @staticmethod
    def _step(ahead: list[str], behind: list[str], current: str | None) -> str | None:
        if not ahead:
            return None
        if current:
            behind.append(current)
        return ahead.pop()
