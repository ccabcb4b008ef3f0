"""The sample vault a newcomer tries: the user's own copy in the data dir, made once, in one step."""

from __future__ import annotations

from pathlib import Path

from conftest import SAMPLE_VAULT
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
