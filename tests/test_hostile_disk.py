"""The index against a hostile disk and hostile names: a full disk (a real, small tmpfs), a read-only
index (a real read-only bind mount), an `--index-dir` among the notes, a umask of 0, file names that
carry terminal escapes. Each test is backed by a line of docs/guarantees.md.

Mounting needs root, which these tests run as; where `mount` is refused they fail, never skip."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ENGINE, GARDEN_NOTES, write_notes
from test_guarantees import _without_root_powers
DISK_FULL = "disk full: free space on {mount} and run the command again"


def run_engine(*args, timeout: int = 600, **options) -> subprocess.CompletedProcess:
    return subprocess.run([*ENGINE, *map(str, args)], capture_output=True, text=True, timeout=timeout, **options)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single line a failed command printed (click's "Error: " prefix taken off); fails on anything else."""
    assert result.returncode == 1, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[-2000:]
    return lines[0].removeprefix("Error: ")


def mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    assert result.returncode == 0, f"mount {' '.join(args)} failed (these tests need root): {result.stderr}"


def unmount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, check=True)


class SmallDisk:
    """A real tmpfs, resized and filled the way a real disk fills up."""

    def __init__(self, path: Path):
        self.path = path
        self.filler = path / "filler.bin"

    def resize(self, size: str) -> None:
        mount("-o", f"remount,size={size}", str(self.path))

    def fill(self) -> None:
        """Write until the disk refuses a single page more."""
        with open(self.filler, "ab", buffering=0) as handle:
            for chunk in (1 << 20, 4096):
                try:
                    while True:
                        handle.write(b"\0" * chunk)
                except OSError:
                    pass
        assert shutil.disk_usage(self.path).free == 0

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_disk(tmp_path):
    path = tmp_path / "disk"
    path.mkdir()
    mount("-t", "tmpfs", "-o", "size=32m,mode=0755", "tmpfs", str(path))
    try:
        yield SmallDisk(path)
    finally:
        unmount(path)


# --- a full disk -------------------------------------------------------------------------------------


def test_a_migration_cut_short_by_a_full_disk_leaves_no_half_behind(small_disk):
    """Opened on disks too small to finish migrating, the index says "disk full" and, once given room,
    opens whole: no migration is left half applied (no "table ... already exists")."""
    from notellm.engine.errors import NoteLLMError
    from notellm.engine.store import MIGRATIONS, Store

    database = small_disk.path / "index.db"
    failed_after: set[int] = set()  # how many migrations had been applied when one failed
    for pages in range(2, 64):
        for leftover in small_disk.path.iterdir():
            leftover.unlink()
        small_disk.resize(f"{pages * 4}k")
        try:
            Store(database).close()
            break
        except NoteLLMError as error:
            assert str(error) == DISK_FULL.format(mount=small_disk.path)
        small_disk.resize("32m")
        with sqlite3.connect(database) as plain:
            tables = {name for (name,) in plain.execute("select name from sqlite_master where type = 'table'")}
            applied = plain.execute("select count(*) from _migrations").fetchone()[0] if "_migrations" in tables else 0
        plain.close()
        failed_after.add(applied)
        with Store(database) as store:  # given room: every migration, applied whole
            assert store.pending_migrations() == []
            assert store.db.execute("pragma integrity_check").fetchone()[0] == "ok"
            assert store.db.execute("select count(*) from lexical").fetchone()[0] == 0
    else:
        pytest.fail("the index never fit on a 252 KB disk")
    assert len(failed_after) >= 2 and max(failed_after) < len(MIGRATIONS), failed_after  # cut short at several places


def test_a_full_disk_says_so_and_neither_command_nor_rebuild_harms_the_index(small_disk, tmp_path, monkeypatch):
    home = small_disk.path / "home"
    monkeypatch.setenv("NOTELLM_HOME", str(home))
    vault = write_notes(small_disk.path / "V", GARDEN_NOTES)
    assert json.loads(run_engine("reindex", vault, "--tokens", "32", "-q", "--json").stdout)["embedded"] == 6
    index_dir = next((home / "vaults").iterdir())
    index_before = [p.name for p in index_dir.iterdir()]
    bread = vault / "Baking" / "Bread.md"
    bread_before = bread.read_bytes()
    write_notes(vault, {f"new/{n}.md": f"# New {n}\n\nFresh notes about yeast number {n} and flour.\n" for n in range(8)})
    small_disk.fill()
    expected = DISK_FULL.format(mount=small_disk.path)

    assert one_line_error(run_engine("reindex", vault, "-q")) == expected
    assert one_line_error(run_engine("tags", vault, "Bread", "--apply", "yeasty")) == expected
    assert bread.read_bytes() == bread_before
    rebuild = one_line_error(run_engine("reindex", vault, "-q", "--rebuild"))
    assert rebuild.startswith("disk full: ") and "--rebuild" not in rebuild
    index_now = {p.name for p in index_dir.iterdir()}
    assert set(index_before) <= index_now and not [name for name in index_now if name.startswith("damaged-")]
    status = run_engine("status", vault, "--json")  # reading needs no room
    assert status.returncode == 0, status.stderr[-800:]
    assert json.loads(status.stdout)["indexed"] == 6

    small_disk.free()
    again = run_engine("reindex", vault, "-q", "--json")
    assert again.returncode == 0, again.stderr[-800:]
    assert json.loads(again.stdout)["embedded"] == 8
    tagged = run_engine("tags", vault, "Bread", "--apply", "yeasty", "--json")
    assert tagged.returncode == 0 and json.loads(tagged.stdout)["applied"] == ["yeasty"], tagged.stderr[-800:]


def test_a_sample_vault_copy_that_fills_the_disk_leaves_nothing_behind_and_succeeds_once_given_room(small_disk):
    """The welcome page's "Try the sample vault", and `notellm-engine sample-vault`, on a full disk: one line
    (`users_sample_vault`'s, in the window or the terminal), no half copy that a later try would open as the
    vault, and a whole copy once there is room."""
    from notellm.engine.sample_vault import SAMPLE_VAULT_NAME, bundled_sample_vault, sample_vault_copy

    source = bundled_sample_vault()
    home = small_disk.path / "home"
    on_the_small_disk = {**os.environ, "NOTELLM_HOME": str(home)}
    small_disk.resize("256k")  # the sample vault is about 550 KB
    with pytest.raises(OSError):
        sample_vault_copy(source, home)
    assert list(home.iterdir()) == []
    failed = run_engine("sample-vault", env=on_the_small_disk)
    assert one_line_error(failed) == f"disk full: free space on {small_disk.path} and run the command again"
    assert list(home.iterdir()) == []

    small_disk.resize("32m")
    copied = run_engine("sample-vault", env=on_the_small_disk)
    assert copied.returncode == 0, copied.stderr[-800:]
    copy = home / SAMPLE_VAULT_NAME
    assert copied.stdout == f"{copy}\n"
    assert sorted(p.relative_to(copy) for p in copy.rglob("*")) == sorted(p.relative_to(source) for p in source.rglob("*"))
    assert [p.name for p in home.iterdir()] == [SAMPLE_VAULT_NAME]


# --- a read-only index ---------------------------------------------------------------------------------


@pytest.fixture
def indexed_garden(garden, notellm_home):
    assert run_engine("reindex", garden, "--tokens", "32", "-q").returncode == 0
    return garden, next((notellm_home / "vaults").iterdir())


def _read_only_bind(path: Path) -> None:
    mount("--bind", str(path), str(path))
    try:
        mount("-o", "remount,bind,ro", str(path))
    except AssertionError:
        unmount(path)
        raise


def _check_read_only_commands(vault: Path, index_dir: Path, *, runner=()) -> None:
    """Reading commands answer (in JSON too); writing ones refuse in one line; nothing in the folder changes."""
    files_before = {p.name: p.stat().st_mtime_ns for p in index_dir.iterdir()}
    bread_before = (vault / "Baking" / "Bread.md").read_bytes()

    def engine(*args):
        return subprocess.run([*runner, *ENGINE, *map(str, args)], capture_output=True, text=True, timeout=600)

    for args in (["status"], ["related", "Bread"], ["search", "flour and water"], ["tags", "Bread"]):
        result = engine(*args[:1], vault, *args[1:], "--json")
        assert result.returncode == 0, (args, result.stderr[-1500:])
        answer = json.loads(result.stdout)
        if args[0] == "status":
            assert answer["indexed"] == 6 and answer["stale"] == 0
        if args[0] in ("related", "search"):
            assert answer and all(hit["path"] in GARDEN_NOTES for hit in answer)
    for args in (["reindex", "-q"], ["tags", "Bread", "--apply", "crusty"], ["watch"]):
        message = one_line_error(engine(*args[:1], vault, *args[1:]))
        assert "read-only" in message and "--rebuild" not in message, message
        as_json = engine(*args[:1], vault, *args[1:], "--json")
        assert as_json.returncode == 1 and json.loads(as_json.stdout)["code"] == "read_only_index"
    assert (vault / "Baking" / "Bread.md").read_bytes() == bread_before
    files_after = {p.name: p.stat().st_mtime_ns for p in index_dir.iterdir()}
    assert {name: files_after.get(name) for name in files_before} == files_before  # no cache saved, nothing rewritten
    assert set(files_after) - set(files_before) <= {"index.db-wal", "index.db-shm"}  # SQLite's own, to read a WAL file


def test_an_index_on_a_read_only_mount_answers_and_writing_commands_refuse(indexed_garden):
    vault, index_dir = indexed_garden
    _read_only_bind(index_dir)
    try:
        _check_read_only_commands(vault, index_dir)
        from notellm.engine import VaultIndex

        with VaultIndex.open(vault) as index:  # as the app uses it
            index.record_navigation("Baking/Bread.md", "Baking/Sourdough.md")  # a click's signal is let go, not an error
            assert [note.path for note in index.related("Bread")]
    finally:
        unmount(index_dir)


def test_a_read_only_index_file_answers_and_writing_commands_refuse(indexed_garden):
    vault, index_dir = indexed_garden
    database = index_dir / "index.db"
    _read_only_bind(database)
    try:
        _check_read_only_commands(vault, index_dir)
    finally:
        unmount(database)


def test_an_index_made_read_only_by_chmod_answers_for_a_user_without_root_powers(indexed_garden):
    vault, index_dir = indexed_garden
    (index_dir / "index.db").chmod(0o400)
    index_dir.chmod(0o500)
    try:
        _check_read_only_commands(vault, index_dir, runner=_without_root_powers())
    finally:
        index_dir.chmod(0o700)
        (index_dir / "index.db").chmod(0o600)


def test_an_index_folder_that_can_t_be_opened_is_one_line_that_never_advises_rebuild(indexed_garden):
    vault, index_dir = indexed_garden
    index_dir.chmod(0)
    try:
        result = subprocess.run([*_without_root_powers(), *ENGINE, "status", str(vault)], capture_output=True, text=True,
                                timeout=600)
    finally:
        index_dir.chmod(0o700)
    message = one_line_error(result)
    assert message.startswith(f"could not open {index_dir}") and "--rebuild" not in message and "damaged" not in message


def test_tags_apply_on_a_read_only_vault_is_one_line_and_leaves_the_note(indexed_garden):
    vault, _ = indexed_garden
    before = (vault / "Baking" / "Bread.md").read_bytes()
    _read_only_bind(vault)
    try:
        message = one_line_error(run_engine("tags", vault, "Bread", "--apply", "crusty"))
    finally:
        unmount(vault)
    assert message == f"{vault / 'Baking' / 'Bread.md'} can't be written (Read-only file system); it was left as it was"
    assert (vault / "Baking" / "Bread.md").read_bytes() == before


# --- an --index-dir among the notes ------------------------------------------------------------------


def test_an_index_dir_among_the_notes_is_refused_and_rebuild_moves_only_the_index_files(tmp_path):
    vault = write_notes(tmp_path / "V", {"vectors.md": "# Vectors\n\nArrows with a length.\n",
                                         "index.db.md": "# Index\n\nWhere things are.\n",
                                         "sub/a.md": "# A\n\nApples.\n"})
    vault.chmod(0o755)
    before = sorted(p.relative_to(vault).as_posix() for p in vault.rglob("*"))
    for inside in (vault, vault / "sub", vault / "new-index"):
        message = one_line_error(run_engine("reindex", vault, "--index-dir", inside, "-q"))
        assert "inside the vault" in message or "the vault itself" in message, message
    assert sorted(p.relative_to(vault).as_posix() for p in vault.rglob("*")) == before
    assert stat.S_IMODE(vault.stat().st_mode) == 0o755

    hidden = vault / ".notellm"
    assert run_engine("reindex", vault, "--index-dir", hidden, "--tokens", "32", "-q").returncode == 0
    # A folder of the user's own as the index folder: its other files stay, and so does its mode.
    own = tmp_path / "own-index"
    own.mkdir(mode=0o755)
    own.chmod(0o755)
    (own / "vectors.md").write_text("the user's own note")
    (own / "index.db.bak").write_text("the user's own backup")
    assert run_engine("reindex", vault, "--index-dir", own, "--tokens", "32", "-q").returncode == 0
    assert run_engine("reindex", vault, "--index-dir", own, "--tokens", "32", "-q", "--rebuild").returncode == 0
    aside = [p for p in own.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1 and {"index.db", "vectors.usearch", "vectors.json"} <= {p.name for p in aside[0].iterdir()}
    assert not {"vectors.md", "index.db.bak", "writer.lock"} & {p.name for p in aside[0].iterdir()}
    assert (own / "vectors.md").read_text() == "the user's own note" and (own / "index.db.bak").exists()
    assert stat.S_IMODE(own.stat().st_mode) == 0o755
    assert sorted(p.relative_to(vault).as_posix() for p in vault.rglob("*") if ".notellm" not in p.parts) == before


# --- private from the first byte ------------------------------------------------------------------------

SAVE_UNDER_UMASK_0 = """
import os, sys
import numpy as np
from notellm.engine.store import Store
from notellm.engine.vectors import VectorIndex
os.umask(0)
folder = sys.argv[1]
store = Store(os.path.join(folder, "index.db"))
vectors = VectorIndex(os.path.join(folder, "vectors.usearch"), store)
vectors.begin_changes(dimensions=256)
vectors.index.add(np.arange(20000, dtype=np.uint64), np.random.default_rng(0).random((20000, 256), dtype=np.float32))
for _ in range(int(sys.argv[2])):
    vectors.begin_changes()  # a save with nothing changed writes nothing
    vectors.save()
store.close()
"""


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_the_vectors_temp_file_is_private_from_its_first_byte_under_umask_0(tmp_path):
    """Another user could open a temp file for as long as it is world-readable: watch it from another
    process while a umask-0 process saves the vectors again and again."""
    folder = tmp_path / "index"
    folder.mkdir(mode=0o700)
    temp = folder / "vectors.usearch.tmp"
    saver = subprocess.Popen([sys.executable, "-c", SAVE_UNDER_UMASK_0, str(folder), "40"], stderr=subprocess.PIPE, text=True)
    modes = []
    while saver.poll() is None:
        try:
            modes.append(stat.S_IMODE(os.stat(temp).st_mode))
        except FileNotFoundError:
            pass
    assert saver.returncode == 0, saver.stderr.read()[-800:]
    assert len(modes) > 10, "the temp file was never seen: the saves were too quick to watch"
    assert set(modes) == {0o600}, sorted(set(map(oct, modes)))
    assert stat.S_IMODE((folder / "vectors.usearch").stat().st_mode) == 0o600


def test_vectors_are_written_only_when_they_changed_and_read_from_disk_once(tmp_path):
    """The USearch file is rewritten (a new file renamed over it) only after a change, and a process that
    loaded it has nothing to write back."""
    import numpy as np

    from notellm.engine.store import Store
    from notellm.engine.vectors import VectorIndex

    store = Store(tmp_path / "index.db")
    try:
        vectors = VectorIndex(tmp_path / "vectors.usearch", store)
        vectors.begin_changes(dimensions=8)
        vectors.index.add(np.arange(3, dtype=np.uint64), np.eye(3, 8, dtype=np.float32))
        vectors.save()
        first = (tmp_path / "vectors.usearch").stat().st_ino
        vectors.save()
        assert (tmp_path / "vectors.usearch").stat().st_ino == first
        loaded = VectorIndex(tmp_path / "vectors.usearch", store)
        assert loaded.ready() and len(loaded) == 3 and loaded.search(np.eye(1, 8, dtype=np.float32)[0], 1)[0][0] == 0
        loaded.save()
        assert (tmp_path / "vectors.usearch").stat().st_ino == first
        loaded.begin_changes()
        loaded.upsert(3, np.ones(8, dtype=np.float32))
        loaded.save()
        assert (tmp_path / "vectors.usearch").stat().st_ino != first
    finally:
        store.close()


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_notellm_home_and_its_vaults_folder_are_created_private(garden, tmp_path, monkeypatch, model_path):
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("NOTELLM_HOME", str(home))
    script = textwrap.dedent(f"""
        import os
        os.umask(0o022)
        from notellm.engine import VaultIndex
        VaultIndex.open({str(garden)!r}, model={str(model_path)!r}).close()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-800:]
    index_dir = next((home / "vaults").iterdir())
    assert {p: oct(stat.S_IMODE(p.stat().st_mode)) for p in (home, home / "vaults", index_dir)} == {
        p: "0o700" for p in (home, home / "vaults", index_dir)}


# --- what reaches the terminal ------------------------------------------------------------------------

HOSTILE_NAMES = {
    "red\x1b[31mflag.md": "# Sourdough starter\n\nFeed the starter flour and water every day.\n",
    "txt.\u202egnp.md": "# Sourdough loaf\n\nFlour, water and a starter make a sourdough loaf.\n",
    "two\nlines.md": "# Sourdough crumb\n\nA starter fed with flour and water gives an open crumb.\n",
}


def test_plain_output_escapes_control_and_bidi_characters_in_file_names(tmp_path):
    vault = write_notes(tmp_path / "V", HOSTILE_NAMES)
    assert run_engine("reindex", vault, "--tokens", "32", "-q").returncode == 0
    related = run_engine("related", vault, "Sourdough starter")
    search = run_engine("search", vault, "sourdough starter flour")
    missing = run_engine("related", vault, "no\x1b[2Jsuch")
    for result in (related, search):
        assert result.returncode == 0, result.stderr[-800:]
        assert not {"\x1b", "\u202e"} & set(result.stdout)
    assert "txt.\\u202egnp.md" in related.stdout and "two\\nlines.md" in related.stdout
    assert "red\\x1b[31mflag.md" in search.stdout and "two\\nlines.md" in search.stdout
    assert missing.returncode == 1 and "\x1b" not in missing.stderr and "no\\x1b[2Jsuch" in missing.stderr
    as_json = json.loads(run_engine("related", vault, "Sourdough starter", "--json").stdout)
    assert {hit["path"] for hit in as_json} == set(HOSTILE_NAMES) - {"red\x1b[31mflag.md"}  # JSON keeps names as they are


def test_usage_errors_under_json_are_json(garden):
    for args in (["related", garden, "--json"], ["status", garden, "--json", "--no-such-option"], ["frobnicate", "--json"]):
        result = run_engine(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        answer = json.loads(result.stdout)
        assert answer["code"] == "usage" and answer["error"], answer
    plain = run_engine("related", garden)
    assert plain.returncode == 2 and "Missing argument 'NOTE'" in plain.stderr and not plain.stdout
