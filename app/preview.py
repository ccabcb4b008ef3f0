"""Read-only Markdown preview: Qt's own renderer, no remote resources, links handled by the app.

The note is shown as the engine reads it (notellm.engine.markdown): the same frontmatter is hidden and the
same wikilinks become links; Qt renders the rest of the Markdown.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QTextBrowser

from notellm.engine.markdown import WikiLink, replace_wikilinks, split_frontmatter

WIKI_SCHEME = "notellm"
_LOCAL_SCHEMES = {"", "file", "qrc", "data"}


def wiki_url(target: str, heading: str = "") -> str:
    url = QUrl()
    url.setScheme(WIKI_SCHEME)
    url.setPath(target.strip())
    if heading:
        url.setFragment(heading.lstrip("#"))
    return url.toString(QUrl.ComponentFormattingOption.FullyEncoded)


def _as_markdown_link(link: WikiLink) -> str:
    """[[Note#Part|label]] -> [label](notellm:Note#Part); without a label it shows "Note › Part"."""
    shown = link.label or (link.target + link.heading.replace("#", " › ") if link.target else link.heading.lstrip("#"))
    shown = shown.replace("]", "\\]")  # a bracket in the label would end Markdown's link text
    return f"[{shown}]({wiki_url(link.target, link.heading)})"


def to_markdown(text: str) -> str:
    """The note's body (a byte-order mark and the frontmatter dropped) with wikilinks as Markdown links."""
    _, body = split_frontmatter(text.removeprefix("\ufeff"))
    return replace_wikilinks(body, _as_markdown_link)


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
