"""Draw the NoteLLM icon (three linked notes) and write it as PNG, ICO and ICNS with Qt.

    QT_QPA_PLATFORM=offscreen .venv/bin/python assets/icons/make_icons.py
"""

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen

HERE = Path(__file__).parent


def draw(size: int) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    s = size / 256
    painter.setBrush(QColor("#3b4cca"))
    painter.setPen(Qt.NoPen)
    painter.drawRoundedRect(QRectF(8 * s, 8 * s, 240 * s, 240 * s), 48 * s, 48 * s)
    centres = [QPointF(80 * s, 90 * s), QPointF(176 * s, 110 * s), QPointF(118 * s, 184 * s)]
    painter.setPen(QPen(QColor("#c9d1ff"), 10 * s))
    for a, b in ((0, 1), (1, 2), (0, 2)):
        painter.drawLine(centres[a], centres[b])
    painter.setPen(Qt.NoPen)
    for centre in centres:
        painter.setBrush(QColor("#ffffff"))
        painter.drawRoundedRect(QRectF(centre.x() - 30 * s, centre.y() - 36 * s, 60 * s, 72 * s), 10 * s, 10 * s)
        painter.setBrush(QColor("#3b4cca"))
        for line in range(3):
            painter.drawRect(QRectF(centre.x() - 20 * s, centre.y() - 20 * s + line * 16 * s, 40 * s - line * 8 * s, 6 * s))
    painter.end()
    return image


if __name__ == "__main__":
    app = QGuiApplication([])
    draw(256).save(str(HERE / "notellm.png"))
    draw(256).save(str(HERE / "notellm.ico"))
    draw(512).save(str(HERE / "notellm.icns"))
