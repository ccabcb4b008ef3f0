"""The sample vault a newcomer can try before pointing NoteLLM at their own notes.

It is Foam's documentation (86 notes, MIT; `assets/sample-vault/LICENSE`), carried by the installer beside the
model. The app opens a copy in the user's data dir, never the installed folder: accepting a hashtag writes to
the note, and that write belongs in the user's own files, not in the program's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .config import REPO_ROOT, bundle_dir, data_dir, make_private_dir
from .errors import DiskError, DiskFullError, VaultNotFoundError
from .storage_errors import disk_full_error, storage_error

SAMPLE_VAULT_NAME = "sample-vault"  # the folder's name in the repository, the bundle and the data dir
PARTIAL_PREFIX = f".{SAMPLE_VAULT_NAME}-"  # a copy being made
SAMPLE_START_NOTE = "index.md"  # Foam's home page ("What is Foam?"): where the app starts a newcomer


def bundled_sample_vault() -> Path | None:
    """The sample vault this installation carries: beside a PyInstaller bundle's program, or in the
    repository of a source install; None when it carries none."""
    bundle = bundle_dir()
    candidates = ([bundle / SAMPLE_VAULT_NAME] if bundle is not None else []) + [REPO_ROOT / "assets" / SAMPLE_VAULT_NAME]
    return next((folder for folder in candidates if folder.is_dir()), None)


def sample_vault_copy(source: Path, home: Path) -> Path:
    """The user's copy of `source` in `home` (the data dir), made on first use and kept as the user left it
    afterwards. The copy is made under a temporary name and renamed into place, so a copy cut short (a full
    disk, a kill) is never taken for the vault; the next call removes it and starts again. Raises OSError."""
    target = home / SAMPLE_VAULT_NAME
    if target.is_dir():
        return target
    make_private_dir(target.parent)
    for left_by_a_kill in target.parent.glob(f"{PARTIAL_PREFIX}*"):
        shutil.rmtree(left_by_a_kill, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=target.parent))
    try:
        _copy_folder(source, partial / SAMPLE_VAULT_NAME)
        os.replace(partial / SAMPLE_VAULT_NAME, target)  # an empty or missing target: replaced in one step
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _copy_folder(source: Path, target: Path) -> None:
    """`source`'s folders and files (the sample vault holds nothing else) copied to `target`. Unlike
    `shutil.copytree`, the first failure is raised as it is, with the errno that says a full disk, instead of
    all of them gathered into one `shutil.Error` that has lost it."""
    for folder, _, files in os.walk(source):
        into = target / Path(folder).relative_to(source)
        into.mkdir()
        for name in files:
            shutil.copy2(Path(folder, name), into / name)


def users_sample_vault(home: Path | None = None) -> Path:
    """`sample_vault_copy` of this installation's sample vault, for a caller that shows one line: raises
    VaultNotFoundError when the installation carries none, DiskFullError or DiskError when the copy fails."""
    source = bundled_sample_vault()
    if source is None:
        raise VaultNotFoundError("this installation carries no sample vault: open a folder of your own notes instead")
    home = home or data_dir()
    try:
        return sample_vault_copy(source, home)
    except OSError as error:
        if isinstance(storage_error(error, home), DiskFullError):  # named by the copy's disk, not by the file copied
            raise disk_full_error(home) from error
        raise DiskError(
            f"could not copy the sample vault into {home} ({error.strerror or error}): check that you may write "
            "there, then run the command again"
        ) from error
