"""The app in a real X server (Xvfb, Qt's xcb platform) as a newcomer meets it: the sample vault, a note
chosen in the list, its related notes and hashtags, a search; at the default size and at 1024x700.

The other app tests run on Qt's offscreen platform, which needs no system libraries and so hides the
commonest failure on a Linux desktop: Qt's xcb plugin missing libxcb-cursor0 and the like. The window
runs in a child process (one QApplication per process, and the suite's is offscreen): this file run as
a script, `python tests/test_window.py VAULT OUT`, drives the window, writes what it saw to
OUT/window-state.json and screenshots of the X server's screen to OUT/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = REPO / "assets" / "sample-vault"
NOTE = "user/features/block-anchors.md"  # long related titles and folders: its cards overflowed the panel
QUESTION = "how do I publish my notes as a website"
SMALL_SIZE = (1024, 700)
CONTENT_TOKENS = 48  # quick embedding on a CPU, as in the other app tests
CHILD_TIMEOUT_S = 900  # hashtags are generated on a low-priority thread: slow on a busy CPU


# --- the child: the app's window on X11 --------------------------------------------------------------
def _pause(ms: int) -> None:
    """Run the event loop for `ms` milliseconds, as the app's exec() does: letting go of Python's lock meanwhile.

    QTest.qWait keeps that lock while it waits, so the app's worker thread ran only between two waits: the
    tour took 240 s instead of 7 on two cores."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _wait_until(app, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
        _pause(50)


def _scroll_bars_shown(widget) -> list[str]:
    """The scroll areas inside `widget` that show a horizontal scroll bar."""
    from PySide6.QtWidgets import QAbstractScrollArea

    return [area.objectName() or type(area).__name__ for area in widget.findChildren(QAbstractScrollArea)
            if area.isVisible() and area.horizontalScrollBar().isVisible()]


def _cards_state(cards_list) -> dict:
    """What a card list shows, and whether each card fits: inside the list's width, its score not cut."""
    viewport = cards_list.viewport().width()
    cards = []
    for card in cards_list.cards():
        right = card.mapTo(cards_list.viewport(), card.rect().topRight()).x()
        score = card.score_label
        cards.append({"title": card.card.title, "score": card.card.score, "reason": card.card.reason,
                      "shown_score": score.text(), "fits": right <= viewport,
                      "score_whole": score.isVisible() and score.width() >= score.sizeHint().width()})
    return {"cards": cards, "viewport_width": viewport}


def _screenshot(window, path: Path) -> bool:
    """The window as the X server shows it (not a widget re-rendering): saved, and not one flat colour."""
    _pause(300)
    image = window.screen().grabWindow(window.winId()).toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 37)}
    return image.save(str(path)) and len(colours) > 20


def _layout_state(window) -> dict:
    header = window.note_list.table.horizontalHeader()
    return {"size": [window.width(), window.height()],
            "related": _cards_state(window.side_panel.related.list),
            "side_panel_scroll_bars": _scroll_bars_shown(window.side_panel),
            "title_column": header.sectionSize(0), "folder_column": header.sectionSize(1)}


def tour(vault: Path, out: Path) -> dict:
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from notellm.app import xcb_check
    from notellm.app.main import create_window
    from notellm.app.side_panel import ACCEPT_CAPTION, NO_SUGGESTION

    missing = xcb_check.problem()  # as `notellm` does before it creates its QApplication
    if missing:
        raise SystemExit(missing)
    app = QApplication(["notellm"])
    settings = QSettings(str(out / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("index/content_tokens", CONTENT_TOKENS)
    window = create_window(str(vault), settings, "light")
    shown = {"related": [], "tags": []}
    window.relatedShown.connect(shown["related"].append)
    window.tagsShown.connect(shown["tags"].append)
    window.show()
    QTest.qWaitForWindowExposed(window)
    window.activateWindow()
    QTest.qWaitForWindowActive(window)
    state: dict = {"platform": app.platformName(), "default_size": [window.width(), window.height()]}
    _wait_until(app, lambda: window.session is not None and window.session.run.state == "done", 300, "the index")

    # choose the note in the list with the mouse
    note_list = window.note_list
    model = note_list.model
    index = note_list.proxy.mapFromSource(model.index(model.row_of(NOTE), 0))
    note_list.table.scrollTo(index)
    QTest.mouseClick(note_list.table.viewport(), Qt.MouseButton.LeftButton, pos=note_list.table.visualRect(index).center())
    _wait_until(app, lambda: NOTE in shown["related"] and NOTE in shown["tags"], 300, "related notes and hashtags")
    tags = window.side_panel.tags
    state["note"] = window.current_path
    state["tags"] = {"chips": [chip.tag for chip in tags.chips()],
                     "accept_tips": [chip.accept_button.toolTip() for chip in tags.chips()],
                     "caption": tags.caption.text() if tags.caption.isVisible() else "",
                     "status": tags.status.text() if tags.status.isVisible() else "",
                     "accept_caption": ACCEPT_CAPTION, "no_suggestion": NO_SUGGESTION}
    screens = out / "screenshots"
    screens.mkdir(parents=True, exist_ok=True)
    state["default"] = _layout_state(window)
    state["screenshots"] = {"main-light.png": _screenshot(window, screens / "main-light.png")}
    window.set_theme("dark")
    state["screenshots"]["main-dark.png"] = _screenshot(window, screens / "main-dark.png")
    window.set_theme("light")

    window.resize(*SMALL_SIZE)
    _wait_until(app, lambda: (window.width(), window.height()) == SMALL_SIZE, 10, "the smaller window")
    _pause(300)
    state["small"] = _layout_state(window)
    state["screenshots"]["main-1024x700.png"] = _screenshot(window, screens / "main-1024x700.png")

    # search with the keyboard: Ctrl+K, the question, Enter, then down through the results
    QTest.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    state["search_focused"] = note_list.search_edit.hasFocus()
    QTest.keyClicks(note_list.search_edit, QUESTION)
    QTest.keyClick(note_list.search_edit, Qt.Key.Key_Return)
    results = note_list.search_results
    _wait_until(app, lambda: results.count() > 0, 120, "search results")
    QTest.keyClick(note_list.search_edit, Qt.Key.Key_Down)
    QTest.keyClick(results, Qt.Key.Key_Down)
    state["search"] = _cards_state(results) | {"current_row": results.currentRow(),
                                               "results_focused": results.hasFocus(),
                                               "scroll_bars": _scroll_bars_shown(note_list)}
    state["screenshots"]["search-light.png"] = _screenshot(window, screens / "search-light.png")
    window.close()
    window.session.close()
    window.worker.wait(60_000)
    window.training.wait(60_000)
    return state


# --- the test: the child on an Xvfb (conftest's x_display), and what it saw -----------------------------
def test_the_app_in_a_real_x_server(tmp_path, x_display, shipped_model, docs_out):
    from notellm.engine import VaultIndex

    vault = tmp_path / "sample-vault"
    shutil.copytree(SAMPLE_VAULT, vault)
    # indexed beforehand (into this test's NOTELLM_HOME, which the child inherits): the app indexes on a
    # low-priority thread, which a busy machine starves; tests/test_app.py covers the first index
    with VaultIndex.open(vault, model=shipped_model, content_tokens=CONTENT_TOKENS) as index:
        index.reindex()
    out = tmp_path / "window"
    out.mkdir()
    env = os.environ | {"DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "NOTELLM_MODEL": str(shipped_model)}
    env.pop("WAYLAND_DISPLAY", None)
    child = subprocess.run([sys.executable, __file__, str(vault), str(out)], env=env, capture_output=True, text=True,
                           timeout=CHILD_TIMEOUT_S)
    assert child.returncode == 0, f"the app's window failed on X11 (exit {child.returncode}):\n{child.stderr[-3000:]}"
    state = json.loads((out / "window-state.json").read_text(encoding="utf-8"))
    assert state["platform"] == "xcb" and state["default_size"] == [1280, 800]
    assert state["note"] == NOTE

    for size in ("default", "small"):  # cards wrap: inside the panel, scores whole, no sideways scrolling
        layout = state[size]
        cards = layout["related"]["cards"]
        assert len(cards) >= 5, size
        scores = [card["score"] for card in cards]
        assert scores == sorted(scores, reverse=True), f"scores go up down the list: {scores}"
        assert all(card["fits"] and card["score_whole"] for card in cards), (size, cards)
        assert layout["side_panel_scroll_bars"] == [], size
    assert state["small"]["size"] == list(SMALL_SIZE)
    assert state["small"]["title_column"] > state["small"]["folder_column"]  # titles come first

    tags = state["tags"]  # chips say what accepting does; no chips say so
    if tags["chips"]:
        assert tags["caption"] == tags["accept_caption"]
        assert all("frontmatter" in tip for tip in tags["accept_tips"])
    else:
        assert tags["status"] == tags["no_suggestion"]

    search = state["search"]  # the related panel's cards, reached with the keyboard
    assert state["search_focused"] and search["results_focused"] and search["current_row"] == 1
    assert len(search["cards"]) >= 3 and all(card["reason"] and card["fits"] and card["score_whole"] for card in search["cards"])
    scores = [card["score"] for card in search["cards"]]
    assert scores == sorted(scores, reverse=True)
    assert search["scroll_bars"] == []

    assert state["screenshots"] and all(state["screenshots"].values()), state["screenshots"]
    for name in state["screenshots"]:
        shutil.copy(out / "screenshots" / name, docs_out / "screenshots" / name)


def test_missing_xcb_libraries_are_named_with_the_commands_that_install_them():
    from notellm.app.xcb_check import install_message, missing_libraries, uses_xcb, xcb_plugin

    message = install_message(["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "\n" not in message and message.startswith("notellm: ")
    assert "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in message
    assert "sudo dnf install -y xcb-util-cursor xcb-util-keysyms xcb-util-wm" in message
    assert uses_xcb({"DISPLAY": ":0"}, "linux") and uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux") and not uses_xcb({}, "darwin")
    assert xcb_plugin().is_file() and missing_libraries(xcb_plugin()) == []  # scripts/system_packages.sh installed them


if __name__ == "__main__":
    vault_arg, out_arg = Path(sys.argv[1]), Path(sys.argv[2])
    seen = tour(vault_arg, out_arg)
    (out_arg / "window-state.json").write_text(json.dumps(seen, indent=1), encoding="utf-8")
