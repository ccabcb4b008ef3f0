"""A note's way from the disk to the screen: after a sync, the app asks again only about what changed.

The real app (offscreen), the real engine and shipped model, a real vault in tmp_path and its real watcher.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import shutil
from pathlib import Path

import pytest

from conftest import SAMPLE_VAULT

NOTES = ["index.md", "user/features/tags.md", "user/features/wikilinks.md", "user/features/backlinking.md",
         "user/features/graph-view.md", "user/features/daily-notes.md"]
INDEX_TIMEOUT_MS = 240_000
SYNC_TIMEOUT_MS = 120_000
SETTLE_MS = 1_500  # room for any late request a sync would set off (file reads, engine answers)


@pytest.fixture
def vault(tmp_path, monkeypatch, shipped_model) -> Path:
    monkeypatch.setenv("NOTELLM_HOME", str(tmp_path / "notellm-home"))
    monkeypatch.setenv("NOTELLM_MODEL", str(shipped_model))
    target = tmp_path / "foam"
    for relative in NOTES:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_VAULT / relative, target / relative)
    return target


def count_calls(owner, name: str) -> list:
    """Record each call of `owner.name` (the real method still runs); returns the list of calls."""
    calls, real = [], getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    setattr(owner, name, counted)
    return calls


def test_a_sync_reloads_and_asks_again_only_for_what_changed(qtbot, open_window, qsettings, vault):
    qsettings.setValue("view/related_count", 2)  # so the vault has notes the shown one does not list
    window = open_window()
    window.open_vault(str(vault))
    session = window.session
    qtbot.waitUntil(lambda: session.run.state == "done", timeout=INDEX_TIMEOUT_MS)
    shown = "user/features/wikilinks.md"
    with qtbot.waitSignal(window.side_panel.relatedShown, timeout=SYNC_TIMEOUT_MS):
        window.show_note(shown)
    listed = window.side_panel.related.paths()
    unlisted = next(path for path in NOTES if path != shown and path not in listed)
    reloads = count_calls(window.note_view, "reload")
    related_requests = count_calls(session, "related")

    def edit_and_wait_for_its_sync(path: str, line: str) -> None:
        with qtbot.waitSignal(session.vaultChanged, timeout=SYNC_TIMEOUT_MS,
                              check_params_cb=lambda summary: path in summary.embedded_paths):
            with open(vault / path, "a", encoding="utf-8") as note:
                note.write(f"\n\n{line}\n")
        qtbot.wait(SETTLE_MS)

    edit_and_wait_for_its_sync(unlisted, "Quinces ripen late in the autumn.")
    assert (len(reloads), len(related_requests)) == (0, 0)  # neither the shown note nor one it lists

    edit_and_wait_for_its_sync(shown, "Wikilinks can also point at headings.")
    assert (len(reloads), len(related_requests)) == (1, 1)  # the preview once, its related notes once

    listed = window.side_panel.related.paths()
    edit_and_wait_for_its_sync(listed[0], "A listed note changes too.")
    assert (len(reloads), len(related_requests)) == (1, 2)  # its related notes again; the preview stays
