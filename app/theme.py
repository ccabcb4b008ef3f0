"""Light and dark looks on the Fusion style, following the system's colour scheme by default."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

LIGHT = {
    "window": "#f6f7f9", "base": "#ffffff", "alt": "#f1f3f6", "text": "#1d2330", "muted": "#6b7385",
    "border": "#dde1e8", "accent": "#4f6bed", "accentText": "#ffffff", "accentSoft": "#e7ebfd",
    "chip": "#eef1fb", "chipBorder": "#c9d2f6", "ok": "#1f9d61", "badge": "#e6f5ee", "badgeText": "#17804f",
    "existing": "#f0f1f4", "selection": "#dfe5fc", "selectionText": "#1d2330", "bar": "#e6e9ef",
}
DARK = {
    "window": "#1c1f26", "base": "#23272f", "alt": "#282c35", "text": "#e4e7ee", "muted": "#9199aa",
    "border": "#353a45", "accent": "#7d93ff", "accentText": "#10131a", "accentSoft": "#2c3350",
    "chip": "#2a3046", "chipBorder": "#44507e", "ok": "#4cc38a", "badge": "#1f3a2e", "badgeText": "#74d6a5",
    "existing": "#2d313b", "selection": "#34406b", "selectionText": "#f1f3f8", "bar": "#343946",
}


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def palette_for(colors: dict) -> QPalette:
    p = QPalette()
    c = {k: QColor(v) for k, v in colors.items()}
    role = QPalette.ColorRole
    for r, key in [
        (role.Window, "window"), (role.WindowText, "text"), (role.Base, "base"), (role.AlternateBase, "alt"),
        (role.Text, "text"), (role.Button, "base"), (role.ButtonText, "text"), (role.ToolTipBase, "base"),
        (role.ToolTipText, "text"), (role.Highlight, "selection"), (role.HighlightedText, "selectionText"),
        (role.Link, "accent"), (role.LinkVisited, "accent"), (role.PlaceholderText, "muted"), (role.Mid, "border"),
        (role.Midlight, "border"), (role.Dark, "border"), (role.Light, "base"), (role.Shadow, "border"),
    ]:
        p.setColor(r, c[key])
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, c["muted"])
    return p


def stylesheet(c: dict) -> str:
    return f"""
    QMainWindow, QDialog {{ background: {c['window']}; }}
    QToolBar {{ background: {c['window']}; border: none; border-bottom: 1px solid {c['border']}; padding: 4px 8px; spacing: 6px; }}
    QStatusBar {{ background: {c['window']}; border-top: 1px solid {c['border']}; color: {c['muted']}; }}
    QStatusBar QLabel {{ color: {c['muted']}; }}
    QStatusBar::item {{ border: none; }}
    QCheckBox::indicator {{ width: 14px; height: 14px; border: 1px solid {c['muted']}; border-radius: 4px; background: {c['base']}; }}
    QCheckBox::indicator:checked {{ background: {c['accent']}; border-color: {c['accent']}; }}
    QCheckBox::indicator:focus {{ border-color: {c['accent']}; }}
    QToolButton#navButton {{ font-size: 16px; padding: 2px 8px; }}
    QSplitter::handle {{ background: {c['border']}; }}
    QLineEdit, QPlainTextEdit {{ background: {c['base']}; border: 1px solid {c['border']}; border-radius: 6px; padding: 4px 8px; selection-background-color: {c['selection']}; }}
    QLineEdit:focus, QPlainTextEdit:focus {{ border: 1px solid {c['accent']}; }}
    QLineEdit#searchBox {{ min-width: 320px; padding: 5px 10px; border-radius: 8px; background: {c['alt']}; }}
    QPushButton {{ background: {c['base']}; border: 1px solid {c['border']}; border-radius: 6px; padding: 5px 12px; }}
    QPushButton:hover {{ border-color: {c['accent']}; }}
    QPushButton:focus {{ border-color: {c['accent']}; }}
    QPushButton#primary {{ background: {c['accent']}; color: {c['accentText']}; border: none; padding: 9px 22px; font-weight: 600; }}
    QToolButton {{ border: none; border-radius: 5px; padding: 4px 8px; }}
    QToolButton:hover, QToolButton:focus {{ background: {c['accentSoft']}; }}
    QTableView, QListWidget, QListView {{ background: {c['base']}; border: none; outline: 0; }}
    QTableView::item {{ padding: 4px 6px; border: none; }}
    QTableView::item:selected, QListWidget::item:selected {{ background: {c['selection']}; color: {c['selectionText']}; }}
    QListWidget#relatedList::item, QListWidget#searchResults::item {{ border-bottom: 1px solid {c['border']}; }}
    QListWidget#relatedList::item:hover, QListWidget#searchResults::item:hover {{ background: {c['alt']}; }}
    QHeaderView::section {{ background: {c['base']}; color: {c['muted']}; border: none; border-bottom: 1px solid {c['border']}; padding: 5px 6px; font-weight: 600; }}
    QTextBrowser#preview {{ background: {c['base']}; border: none; }}
    QWidget#leftPane, QWidget#sidePane {{ background: {c['base']}; }}
    QWidget#noteHeader {{ background: {c['base']}; border-bottom: 1px solid {c['border']}; }}
    QLabel#noteTitle {{ font-size: 17px; font-weight: 600; }}
    QLabel#sectionTitle {{ font-size: 11px; font-weight: 700; color: {c['muted']}; letter-spacing: 1px; text-transform: uppercase; }}
    QLabel#subTitle {{ font-size: 11px; font-weight: 600; color: {c['muted']}; }}
    QLabel#muted, QLabel#reason, QLabel#scoreText, QLabel#hint {{ color: {c['muted']}; }}
    QLabel#reason {{ font-size: 11px; }}
    QLabel#scoreText {{ font-size: 11px; }}
    QLabel#relatedTitle {{ font-weight: 600; }}
    QLabel#placeholder {{ color: {c['muted']}; padding: 18px; }}
    QLabel#badge {{ background: {c['badge']}; color: {c['badgeText']}; border-radius: 7px; padding: 0px 7px; font-size: 10px; font-weight: 600; }}
    QProgressBar#score {{ background: {c['bar']}; border: none; border-radius: 2px; }}
    QProgressBar#score::chunk {{ background: {c['accent']}; border-radius: 2px; }}
    QProgressBar#indexProgress {{ background: {c['bar']}; border: none; border-radius: 4px; max-height: 8px; min-width: 160px; }}
    QProgressBar#indexProgress::chunk {{ background: {c['accent']}; border-radius: 4px; }}
    QFrame#chip {{ background: {c['chip']}; border: 1px solid {c['chipBorder']}; border-radius: 11px; }}
    QLabel#chipText {{ color: {c['text']}; font-weight: 500; }}
    QToolButton#chipAccept, QToolButton#chipDismiss {{ padding: 1px 5px; border-radius: 9px; font-weight: 700; }}
    QToolButton#chipAccept {{ color: {c['ok']}; }}
    QToolButton#chipDismiss {{ color: {c['muted']}; }}
    QLabel#existingTag {{ background: {c['existing']}; color: {c['muted']}; border-radius: 11px; padding: 3px 10px; }}
    QLabel#welcomeTitle {{ font-size: 28px; font-weight: 700; }}
    QLabel#welcomeText {{ font-size: 14px; color: {c['muted']}; }}
    QWidget#welcomeCard {{ background: {c['base']}; border: 1px solid {c['border']}; border-radius: 14px; }}
    QListWidget#recentList {{ background: transparent; }}
    QListWidget#recentList::item {{ padding: 6px 8px; border-radius: 6px; }}
    QListWidget#recentList::item:hover {{ background: {c['alt']}; }}
    """


def apply_theme(app: QApplication, mode: str = "system") -> str:
    """mode: 'system', 'light' or 'dark'; returns the look applied."""
    app.setStyle("Fusion")
    dark = system_prefers_dark() if mode == "system" else mode == "dark"
    colors = DARK if dark else LIGHT
    app.setPalette(palette_for(colors))
    app.setStyleSheet(stylesheet(colors))
    app.setProperty("notellmTheme", "dark" if dark else "light")
    return "dark" if dark else "light"


def preview_css(dark: bool) -> str:
    c = DARK if dark else LIGHT
    return (
        f"a {{ color: {c['accent']}; text-decoration: none; }} "
        f"code {{ background-color: {c['alt']}; }} pre {{ background-color: {c['alt']}; }} "
        f"h1, h2, h3 {{ color: {c['text']}; }}"
    )


def app_icon():
    """Two linked notes: drawn at start-up, so the app ships no image files."""
    from PySide6.QtCore import QPointF, QRectF
    from PySide6.QtGui import QIcon, QPainter, QPen, QPixmap

    icon = QIcon()
    for size in (16, 32, 64, 128, 256):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = size / 64
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(LIGHT["accent"]))
        p.drawRoundedRect(QRectF(2 * s, 2 * s, 60 * s, 60 * s), 14 * s, 14 * s)
        p.setPen(QPen(QColor("#ffffff"), 4 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(QPointF(22 * s, 24 * s), QPointF(42 * s, 40 * s))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#ffffff"))
        p.drawEllipse(QPointF(22 * s, 24 * s), 9 * s, 9 * s)
        p.setBrush(QColor("#c9d2f6"))
        p.drawEllipse(QPointF(42 * s, 40 * s), 9 * s, 9 * s)
        p.end()
        icon.addPixmap(pixmap)
    return icon
