"""The PyInstaller bundle runs on a machine without our Python: build it, then use it with a clean environment.

Slow (a few minutes): run on its own with `pytest -m packaging`.
"""

import json
import platform
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_VAULT
from notellm.engine import cpu_kernels

pytestmark = pytest.mark.packaging
BUNDLE = REPO / "dist" / "NoteLLM"


@pytest.fixture(scope="module")
def bundle() -> Path:
    subprocess.run(["bash", str(REPO / "packaging" / "build.sh")], check=True, cwd=REPO, timeout=3600)  # a first build compiles llama.cpp's kernels for every x86 CPU
    assert (BUNDLE / "notellm-engine").exists() and (BUNDLE / "notellm").exists()
    return BUNDLE


@pytest.fixture
def clean_env(tmp_path) -> dict:
    """No virtualenv, no PYTHONPATH, a fresh home: what a user's machine looks like."""
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "NOTELLM_HOME": str(home / "notellm"), "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"}


def run(bundle, program, *args, env, timeout=600):
    return subprocess.run([str(bundle / program), *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout, cwd="/")


def test_engine_cli_indexes_and_answers(bundle, clean_env, tmp_path):
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT / "user" / "features", vault)
    assert run(bundle, "notellm-engine", "--version", env=clean_env).stdout.startswith("notellm-engine, version")
    indexed = run(bundle, "notellm-engine", "reindex", vault, "--tokens", "32", "--json", "-q", env=clean_env)
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["embedded"] >= 10
    related = run(bundle, "notellm-engine", "related", vault, "wikilinks.md", "-k", "3", "--json", env=clean_env)
    assert related.returncode == 0, related.stderr
    assert len(json.loads(related.stdout)) == 3
    status = run(bundle, "notellm-engine", "status", vault, "--json", env=clean_env)
    kernels = json.loads(status.stdout)["kernels"]
    assert kernels in cpu_kernels.X86_VARIANT_NEEDS and cpu_kernels.usable(kernels, cpu_kernels.os_enabled_features())


def test_engine_cli_gives_a_newcomer_their_copy_of_the_bundled_sample_vault(bundle, clean_env):
    made = run(bundle, "notellm-engine", "sample-vault", env=clean_env)
    assert made.returncode == 0, made.stderr
    copy = Path(clean_env["NOTELLM_HOME"]) / "sample-vault"  # the copy the welcome page's button opens too
    assert made.stdout == f"{copy}\n"
    assert sorted(p.relative_to(copy) for p in copy.rglob("*")) == sorted(p.relative_to(SAMPLE_VAULT) for p in SAMPLE_VAULT.rglob("*"))


def test_bundle_carries_llama_cpp_kernels_for_every_x86_cpu(bundle):
    libraries = {p.name for p in (bundle / "_internal" / "llama_cpp" / "lib").glob("libggml-cpu-*.so")}
    dispatching = platform.system() == "Linux" and platform.machine() == "x86_64"  # build.sh's choice
    assert libraries == ({f"libggml-cpu-{variant}.so" for variant in cpu_kernels.X86_VARIANT_NEEDS} if dispatching else set())


def test_gui_starts_opens_a_vault_and_quits(bundle, clean_env, tmp_path):
    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT / "user" / "features", vault)
    result = run(bundle, "notellm", vault, "--quit-after-index", env=clean_env)
    assert result.returncode == 0, result.stderr


def xdotool(display: str, *args) -> str:
    """Keys and window lookups on the test's X server, as a person at the keyboard would send them."""
    if shutil.which("xdotool") is None:
        pytest.fail("xdotool is not installed: scripts/system_packages.sh installs it (apt: xdotool)")
    result = subprocess.run(["xdotool", *args], env={"DISPLAY": display}, capture_output=True, text=True, timeout=30)
    return result.stdout.strip() if result.returncode == 0 else ""


def test_gui_gives_a_newcomer_the_bundled_sample_vault_from_the_file_menu(bundle, clean_env, x_display, tmp_path):
    """The frozen window on a real X server: File › Open Sample Vault (Alt+F, M), the welcome button's twin,
    copies the bundled sample vault into the data folder and indexes it."""
    env = clean_env | {"DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    copy = Path(clean_env["NOTELLM_HOME"]) / "sample-vault"
    with open(tmp_path / "gui.log", "wb") as log:
        app = subprocess.Popen([str(bundle / "notellm")], env=env, cwd="/", stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not copy.is_dir() and time.monotonic() < deadline and app.poll() is None:
            window = xdotool(x_display, "search", "--name", "^NoteLLM$")
            if window:  # the menu item shows once the file worker has found the sample vault: try until it opens
                xdotool(x_display, "windowfocus", "--sync", window.split()[0])
                xdotool(x_display, "key", "alt+f", "m")
            time.sleep(2)
            if not copy.is_dir():
                xdotool(x_display, "key", "Escape")
        assert copy.is_dir(), (tmp_path / "gui.log").read_text(errors="replace")[-2000:]

        indexed = 0
        while indexed < 86 and time.monotonic() < deadline + 300 and app.poll() is None:
            status = run(bundle, "notellm-engine", "status", copy, "--json", env=clean_env)
            indexed = json.loads(status.stdout).get("indexed", 0) if status.returncode == 0 else 0
            time.sleep(2)
        assert indexed == 86, (tmp_path / "gui.log").read_text(errors="replace")[-2000:]
        assert app.poll() is None  # the window did not crash on the way
    finally:
        app.terminate()
        app.wait(60)


def test_bundle_leaves_out_training_libraries(bundle):
    names = {p.name.lower() for p in (bundle / "_internal").iterdir()}
    assert not {"torch", "transformers", "peft", "accelerate"} & names
    assert any(p.name.startswith("libllama") for p in (bundle / "_internal").rglob("libllama*"))
    assert (bundle / "_internal" / "models").is_dir()
    assert (bundle / "_internal" / "sample-vault" / "index.md").is_file()  # the welcome page's sample vault
