"""Box layouts filled in one call: their widgets and layouts in order, margins and spacing."""

from __future__ import annotations

from PySide6.QtWidgets import QBoxLayout, QLayout, QWidget

Part = QWidget | QLayout | int | tuple[QWidget | QLayout, int]


def fill(layout: QBoxLayout, *parts: Part, margins: tuple[int, int, int, int] | None = None,
         spacing: int | None = None) -> QBoxLayout:
    """Each part is a widget or a layout, a (widget or layout, stretch factor) pair, or an int: stretchable space."""
    if margins is not None:
        layout.setContentsMargins(*margins)
    if spacing is not None:
        layout.setSpacing(spacing)
    for part in parts:
        item, stretch = part if isinstance(part, tuple) else (part, 0)
        if isinstance(item, int):
            layout.addStretch(item)
        elif isinstance(item, QLayout):
            layout.addLayout(item, stretch)
        else:
            layout.addWidget(item, stretch)
    return layout
