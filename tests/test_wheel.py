"""The wheel carries the whole product: built from a copy of the sources, installed into a fresh venv, each entry point runs.

The fresh venv has no NoteLLM of its own but sees the project venv's dependencies through a path file (which,
unlike a site folder, runs no path files of its own: the development install's finder stays out), so every
module imported below comes from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

MAPPED = {"engine": "notellm/engine", "app": "notellm/app", "training": "notellm/training", "notellm": "notellm"}
BUILD_INPUTS = [*MAPPED, "pyproject.toml", "setup.py", "README.md"]


def modules_in_folders() -> set[str]:
    """Every .py and app icon of the mapped folders, by the path it must have inside the wheel."""
    wanted = set()
    for folder, package_path in MAPPED.items():
        for source in (REPO / folder).rglob("*"):
            if "__pycache__" not in source.parts and (source.suffix == ".py" or "icons" in source.parts) and source.is_file():
                wanted.add(f"{package_path}/{source.relative_to(REPO / folder).as_posix()}")
    return wanted


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built offline with the project venv's setuptools, from a copy, so the tree gets no build/ or egg-info."""
    work = tmp_path_factory.mktemp("wheel")
    (work / "src").mkdir()
    for name in BUILD_INPUTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, work / "src" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, work / "src" / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(work / "dist"), str(work / "src")], check=True, capture_output=True, timeout=300)
    (built,) = (work / "dist").glob("notellm_desktop-*.whl")
    return built


def test_the_wheel_carries_every_module_and_icon(wheel):
    with zipfile.ZipFile(wheel) as archive:
        carried = set(archive.namelist())
    assert modules_in_folders() - carried == set()
    assert "notellm/training/losses/contrastive.py" in carried  # the subpackage a hand-written list once missed


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with only the wheel installed in it; the dependencies come from the project venv."""
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    return venv


def run_in(venv: Path, *command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run([str(venv / "bin" / command[0]), *command[1:]], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


@pytest.mark.parametrize("program", ["notellm-engine", "notellm-train"])
def test_each_cli_of_the_installed_wheel_answers_help(installed, program, tmp_path):
    result = run_in(installed, program, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_the_installed_wheel_imports_the_app_and_the_trainer_from_itself(installed, tmp_path):
    """Run from an empty folder, so the repository's own folders cannot stand in for the wheel's packages."""
    result = run_in(installed, "python", "-c",
                    "import notellm.app.main, notellm.training.train, notellm.training.pack, notellm.training.teacher; "
                    "print(notellm.app.main.__file__); print(notellm.training.train.__file__)", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for location in result.stdout.split():
        assert Path(location).is_relative_to(installed), location
