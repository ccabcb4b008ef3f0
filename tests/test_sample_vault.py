"""The sample vault a newcomer tries: the user's own copy in the data dir, made once, in one step."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import ENGINE, SAMPLE_VAULT
from test_guarantees import _without_root_powers
from notellm.engine.sample_vault import PARTIAL_PREFIX, SAMPLE_VAULT_NAME, bundled_sample_vault, sample_vault_copy


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_the_sample_vault_is_copied_once_and_then_kept_as_the_user_left_it(tmp_path):
    source = bundled_sample_vault()
    assert source == SAMPLE_VAULT  # a source install carries the repository's
    original = files_of(source)
    home = tmp_path / "home"

    copy = sample_vault_copy(source, home)
    assert copy == home / SAMPLE_VAULT_NAME
    assert files_of(copy) == original and len(original) > 80
    assert sorted(path.name for path in home.iterdir()) == [SAMPLE_VAULT_NAME]  # no temporary folder left
    assert oct(home.stat().st_mode & 0o777) == "0o700"  # the data dir is private, as the index makes it

    (copy / "index.md").write_text("my own edit\n")  # say, a hashtag the user accepted
    (copy / "inbox.md").unlink()
    assert sample_vault_copy(source, home) == copy
    assert (copy / "index.md").read_text() == "my own edit\n"
    assert not (copy / "inbox.md").exists()
    assert files_of(source) == original  # the installed vault is never written


def test_a_copy_left_half_done_by_a_kill_is_never_opened_and_is_cleared_by_the_next(tmp_path):
    source = bundled_sample_vault()
    home = tmp_path / "home"
    half = home / f"{PARTIAL_PREFIX}killed" / SAMPLE_VAULT_NAME
    half.mkdir(parents=True)
    (half / "index.md").write_text("half a copy")

    copy = sample_vault_copy(source, home)
    assert files_of(copy) == files_of(source)
    assert sorted(path.name for path in home.iterdir()) == [SAMPLE_VAULT_NAME]


def test_the_command_line_prints_the_users_copy_ready_to_index(notellm_home):
    printed = subprocess.run([*ENGINE, "sample-vault"], capture_output=True, text=True, timeout=120, check=True).stdout
    copy = notellm_home / SAMPLE_VAULT_NAME
    assert printed == f"{copy}\n"  # one path on stdout: `notellm-engine reindex "$(notellm-engine sample-vault)"`
    assert files_of(copy) == files_of(SAMPLE_VAULT)

    (copy / "index.md").write_text("my own edit\n")
    again = subprocess.run([*ENGINE, "sample-vault", "--json"], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(again.stdout) == {"path": str(copy)}
    assert (copy / "index.md").read_text() == "my own edit\n"


def test_a_data_folder_it_may_not_write_is_one_line_and_no_copy(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    home = locked / "notellm"
    result = subprocess.run([*_without_root_powers(), *ENGINE, "sample-vault"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NOTELLM_HOME": str(home)})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"Error: could not copy the sample vault into {home} (Permission denied): check that you may "
                             "write there, then run the command again\n")
    assert list(locked.iterdir()) == []
