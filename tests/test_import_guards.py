"""The layers stay apart: the engine imports neither Qt nor torch (nor the app or the trainer), training no Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QT = {"PySide6", "shiboken6", "notellm.app"}
TORCH = {"torch", "transformers", "peft", "accelerate", "notellm.training"}


def imported_modules(source: Path, package: str) -> set[str]:
    """Every module `source` imports, at the top or inside a function, relative imports made absolute."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def forbidden_imports(folder: str, package: str, forbidden: set[str]) -> list[str]:
    found = []
    for source in sorted((REPO / folder).rglob("*.py")):
        subpackage = ".".join([package, *source.relative_to(REPO / folder).parent.parts])
        for name in imported_modules(source, subpackage):
            if any(name == banned or name.startswith(banned + ".") for banned in forbidden):
                found.append(f"{source.relative_to(REPO)} imports {name}")
    return found


@pytest.mark.parametrize(("folder", "package", "forbidden"), [
    ("engine", "notellm.engine", QT | TORCH),
    ("app", "notellm.app", {"notellm.training"}),
    ("training", "notellm.training", QT),
])
def test_a_layer_never_imports_what_it_must_not(folder, package, forbidden):
    assert forbidden_imports(folder, package, forbidden) == []


def path_insertions(folder: str) -> list[str]:
    """Every `sys.path.insert(...)` or `sys.path.append(...)` in `folder`'s Python files: a way around the layers."""
    found = []
    for source in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("insert", "append")
                    and ast.unparse(node.func.value) == "sys.path"):
                found.append(f"{source.relative_to(REPO)}:{node.lineno}")
    return found


@pytest.mark.parametrize("folder", ["engine", "app", "training", "tests"])
def test_the_product_and_its_tests_reach_no_script_folder_through_sys_path(folder):
    """bench/ and experiments/ are scripts, not packages: what the product needs lives in its own packages."""
    assert path_insertions(folder) == []


def test_the_guard_sees_lazy_and_relative_imports(tmp_path):
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "module.py").write_text("def later():\n    import torch\n    from ..app import window\n", encoding="utf-8")
    assert imported_modules(tmp_path / "layer" / "module.py", "notellm.engine") >= {"torch", "notellm.app", "notellm.app.window"}
    assert forbidden_imports("app", "notellm.app", {"PySide6"})  # the app does use Qt: the scan finds real imports


def test_the_engine_and_its_cli_load_without_qt_or_torch():
    """Imported for real, in a fresh interpreter: a dependency that pulls Qt or torch in shows here too."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, notellm.engine, notellm.engine.cli, notellm.engine.personalize; "
         "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert not {"PySide6", "shiboken6", "torch", "transformers", "peft", "accelerate"} & set(loaded)
