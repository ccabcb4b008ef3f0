"""Read-only Markdown preview: Qt's own renderer, no remote resources, links handled by the app."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QTextBrowser

WIKI_SCHEME = "notellm"
_FRONTMATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?^(?:---|\.\.\.)[ \t]*\r?$\n?", re.DOTALL | re.MULTILINE)
_WIKILINK = re.compile(r"(!?)\[\[([^\]\|#\n]*)(#[^\]\|\n]*)?(?:\|([^\]\n]+))?\]\]")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LOCAL_SCHEMES = {"", "file", "qrc", "data"}


def strip_frontmatter(text: str) -> str:
    return _FRONTMATTER.sub("", text, count=1)


def wiki_url(target: str, heading: str = "") -> str:
    url = QUrl()
    url.setScheme(WIKI_SCHEME)
    url.setPath(target.strip())
    if heading:
        url.setFragment(heading.lstrip("#"))
    return url.toString(QUrl.ComponentFormattingOption.FullyEncoded)


def wikilinks_to_markdown(text: str) -> str:
    """[[Note|label]] -> [label](notellm:Note), outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and "[[" in line:
            def replace(m: re.Match) -> str:
                target, heading, label = m.group(2), m.group(3) or "", m.group(4)
                shown = (label or (target + heading.replace("#", " › ") if target else heading.lstrip("#"))).replace("]", "\\]")
                return f"[{shown}]({wiki_url(target, heading)})"

            line = _WIKILINK.sub(replace, line)
        out.append(line)
    return "".join(out)


def to_markdown(text: str) -> str:
    return wikilinks_to_markdown(strip_frontmatter(text))


class NotePreview(QTextBrowser):
    """Shows one note. Emits `linkActivated` instead of following links itself."""

    linkActivated = Signal(QUrl)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        self.setObjectName("preview")
        self.document().setDocumentMargin(24)
        self.anchorClicked.connect(self._on_anchor)
        self.vault: Path | None = None
        self.note_path: str | None = None
        self.refused: list[str] = []  # remote resources the document asked for (and did not get)

    def show_note(self, vault: Path, note_path: str, text: str) -> None:
        self.vault, self.note_path = vault, note_path
        folder = (vault / note_path).parent
        self.refused = []
        self.document().setBaseUrl(QUrl.fromLocalFile(str(folder) + "/"))
        self.setMarkdown(to_markdown(text))

    def show_message(self, html: str) -> None:
        self.vault = self.note_path = None
        self.setHtml(html)

    def loadResource(self, kind: int, url: QUrl):
        """Only local files inside the vault: no remote images, no tracking pixels."""
        if url.scheme().lower() not in _LOCAL_SCHEMES:
            self.refused.append(url.toString())
            return None
        if kind == QTextDocument.ResourceType.ImageResource.value or kind == QTextDocument.ResourceType.ImageResource:
            resolved = self.document().baseUrl().resolved(url)
            if resolved.isLocalFile() and self.vault is not None:
                try:
                    Path(resolved.toLocalFile()).resolve().relative_to(self.vault)
                except ValueError:
                    self.refused.append(url.toString())
                    return None
        return super().loadResource(kind, url)

    def _on_anchor(self, url: QUrl) -> None:
        if not url.scheme() and not url.path() and url.fragment():
            self.scrollToAnchor(url.fragment())
            return
        self.linkActivated.emit(url)
