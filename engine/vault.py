"""Find and read the notes of a vault folder, turning every bad file into a recorded reason.

Reading never raises for a file's fault: a binary file, broken UTF-8, a huge file, a FIFO, a
symlink loop, a permission error or a file that vanished mid-read comes back as `Skipped`.

Symlinks are followed only when their real target stays inside the vault's real path; a link that
leads outside is skipped with the reason "points outside the vault" (its target is never read).
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .markdown import Link, ParsedNote, parse_note

NOTE_SUFFIXES = (".md", ".markdown")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192
OUTSIDE_VAULT = "points outside the vault"
# Skip reasons that can change without the file's mtime or size changing: retried on every update.
VANISHED = "vanished while indexing"  # the file was listed or stat'ed, then gone when read
RETRY_REASONS = ("permission denied", "unreadable", VANISHED, "folder unreadable")
# The temp files `hashtags.atomic_write` writes beside a note (tempfile.mkstemp: 8 random characters);
# one left behind by a killed process is ours to remove.
OWN_TEMP_FILE = re.compile(r"^\..+\.(md|markdown)\.[a-z0-9_]{8}\.tmp$", re.IGNORECASE)


@dataclass(frozen=True)
class FileStat:
    path: str  # vault-relative, '/'-separated
    mtime_ns: int
    size: int


@dataclass
class Note:
    path: str
    mtime_ns: int
    size: int
    content_hash: str
    parsed: ParsedNote

    @property
    def folder(self) -> str:
        return folder_of(self.path)

    @property
    def prompt_fields(self) -> tuple[str, str, str]:
        """(title, text, folder): the note as the model reads it (`engine.model.NoteModel.embed_notes`)."""
        return self.parsed.title, self.parsed.text, self.folder


@dataclass
class Skipped:
    path: str
    reason: str
    mtime_ns: int = 0
    size: int = 0


@dataclass
class ScanResult:
    files: dict[str, FileStat] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)  # found but unusable before reading
    temp_files: list[Path] = field(default_factory=list)  # our own stale temp files (see OWN_TEMP_FILE)


def is_inside(path: str | Path, boundary: str | Path) -> bool:
    """Whether the real path of `path` (symlinks resolved) is `boundary`'s real path or below it."""
    real = os.path.realpath(path)
    top = os.path.realpath(boundary)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def link_problem(path: str | Path) -> str | None:
    """Why a symlink can't be followed ("symlink loop", "broken symlink"), or None when it can."""
    try:
        os.stat(path)
    except OSError as error:
        return "symlink loop" if error.errno == errno.ELOOP else "broken symlink"
    return None


def readable(name: str) -> str:
    """A file name or path as text to show and to read: the bytes of a name that are not UTF-8 (which Python
    reads as surrogate escapes, and which no text encoding accepts) written as \\xNN, as Python shows them."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def folder_of(path: str) -> str:
    """The vault-relative folder of a note path, readable (see `readable`); '' at the vault's top."""
    return readable(path.rsplit("/", 1)[0]) if "/" in path else ""


def is_hidden(relative: str) -> bool:
    """A vault-relative path inside a hidden folder or to a hidden file (.obsidian, .git, .trash): never a note."""
    return any(part.startswith(".") for part in relative.split("/"))


def is_excluded(relative: str, exclude: tuple[str, ...]) -> bool:
    if is_hidden(relative):
        return True
    parts = relative.split("/")
    for pattern in exclude:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(part, pattern) for part in parts[:-1]):
            return True
        if relative.startswith(pattern + "/"):
            return True
    return False


def is_note_name(name: str) -> bool:
    return name.lower().endswith(NOTE_SUFFIXES)


def scan(root: Path, exclude: tuple[str, ...] = (), boundary: Path | None = None) -> ScanResult:
    """Walk the vault (or a folder of it), following symlinks whose target stays inside `boundary`
    (default: `root`). Real folders are walked before linked ones, so a note reached both ways is
    listed under its real path; loops and links leading outside are recorded, not followed."""
    root = Path(root)
    top = os.path.realpath(boundary if boundary is not None else root)
    result = ScanResult()
    visited: set[tuple[int, int]] = set()
    linked_folders: list[tuple[Path, str]] = []

    def walk(folder: Path, relative_folder: str) -> None:
        try:
            folder_stat = folder.stat()
        except OSError as error:
            result.skipped.append(Skipped(relative_folder or ".", f"folder unreadable: {error.strerror or error}"))
            return
        identity = (folder_stat.st_dev, folder_stat.st_ino)
        if identity in visited:
            real, parent = os.path.realpath(folder), os.path.realpath(folder.parent)
            loop = parent == real or parent.startswith(real.rstrip(os.sep) + os.sep)
            reason = "symlink loop: folder already visited" if loop else "symlink to a folder already indexed"
            result.skipped.append(Skipped(relative_folder, reason))
            return
        visited.add(identity)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            result.skipped.append(Skipped(relative_folder or ".", f"folder unreadable: {error.strerror or error}"))
            return
        for entry in entries:
            relative = f"{relative_folder}/{entry.name}" if relative_folder else entry.name
            if is_excluded(relative, exclude):
                if OWN_TEMP_FILE.match(entry.name) and entry.is_file(follow_symlinks=False):
                    result.temp_files.append(Path(entry.path))
                continue
            is_link = entry.is_symlink()
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_link and (is_dir or is_note_name(entry.name)):
                problem = link_problem(entry.path)
                if problem:
                    result.skipped.append(Skipped(relative, problem))
                    continue
                if not is_inside(entry.path, top):
                    result.skipped.append(Skipped(relative, OUTSIDE_VAULT))
                    continue
            if is_dir:
                if is_link:
                    linked_folders.append((Path(entry.path), relative))
                else:
                    walk(Path(entry.path), relative)
                continue
            if not is_note_name(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=True)
            except OSError as error:
                reason = link_problem(entry.path) if is_link else f"unreadable: {error.strerror or error}"
                result.skipped.append(Skipped(relative, reason or f"unreadable: {error.strerror or error}"))
                continue
            if not stat.S_ISREG(info.st_mode):
                result.skipped.append(Skipped(relative, "not a regular file"))
                continue
            result.files[relative] = FileStat(relative, info.st_mtime_ns, info.st_size)

    if not is_inside(root, top):
        result.skipped.append(Skipped(".", OUTSIDE_VAULT))
        return result
    walk(root, "")
    while linked_folders:
        folder, relative = linked_folders.pop(0)
        walk(folder, relative)
    return result


def stat_note(root: Path, relative: str) -> FileStat | None:
    """Stat one note; None when it is gone or no longer a regular file."""
    try:
        info = (Path(root) / relative).stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return FileStat(relative, info.st_mtime_ns, info.st_size)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_note(root: Path, file: FileStat, max_bytes: int = DEFAULT_MAX_BYTES) -> Note | Skipped:
    """Read and parse one note, or say why it can't be used (a link leading outside `root` is not read)."""
    path = Path(root) / file.path
    if path.is_symlink() and link_problem(path):
        return Skipped(file.path, link_problem(path) or "broken symlink", file.mtime_ns, file.size)
    if not is_inside(path, root):
        return Skipped(file.path, OUTSIDE_VAULT, file.mtime_ns, file.size)
    if file.size > max_bytes:
        return Skipped(file.path, f"too large ({file.size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB limit)", file.mtime_ns, file.size)
    try:
        with open(path, "rb") as handle:
            opened = os.fstat(handle.fileno())
            real = os.stat(os.path.realpath(path))
            if (opened.st_dev, opened.st_ino) != (real.st_dev, real.st_ino) or not is_inside(path, root):
                return Skipped(file.path, OUTSIDE_VAULT, file.mtime_ns, file.size)  # swapped for a link meanwhile
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return Skipped(file.path, VANISHED, file.mtime_ns, file.size)
    except PermissionError:
        return Skipped(file.path, "permission denied", file.mtime_ns, file.size)
    except OSError as error:
        return Skipped(file.path, f"unreadable: {error.strerror or error}", file.mtime_ns, file.size)
    if len(data) > max_bytes:
        return Skipped(file.path, f"too large (> {max_bytes / 1e6:.1f} MB limit)", file.mtime_ns, len(data))
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return Skipped(file.path, "binary file, not Markdown", file.mtime_ns, file.size)
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return Skipped(file.path, f"not valid UTF-8 (byte {error.start})", file.mtime_ns, file.size)
    if not source.strip():
        return Skipped(file.path, "empty note", file.mtime_ns, file.size)
    parsed = parse_note(source, readable(PurePosixPath(file.path).stem))
    return Note(file.path, file.mtime_ns, len(data), content_hash(data), parsed)


def read_notes(root: Path, exclude: tuple[str, ...] = ()) -> list[Note]:
    """Every note of the folder that the engine would index, in path order; the files it skips are left out."""
    result = scan(root, exclude)
    notes = (read_note(root, result.files[path]) for path in sorted(result.files))
    return [note for note in notes if isinstance(note, Note)]


class LinkResolver:
    """The one rule for finding a note by name, in the engine, the app and training alike. A link's target
    resolves as Obsidian resolves it: exact path, path without its note suffix, then file name (the shortest
    path among notes of that name, preferring those whose path ends in the folders the target gives), then
    alias. A name a person types (`find`) resolves as a wiki link would, then by title."""

    def __init__(self, paths: list[str], aliases: dict[str, list[str]] | None = None,
                 titles: dict[str, str] | None = None):
        self.by_path = {p.casefold(): p for p in paths}
        self.by_path_no_ext: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = {}
        for p in paths:
            without = p.rsplit(".", 1)[0]
            self.by_path_no_ext[without.casefold()] = p
            self.by_name.setdefault(PurePosixPath(without).name.casefold(), []).append(p)
        self.by_alias: dict[str, str] = {}
        for p, names in (aliases or {}).items():
            for name in names:
                self.by_alias.setdefault(name.casefold(), p)
        self.by_title: dict[str, str] = {}
        for p in sorted(titles or {}, key=lambda p: (p.count("/"), p)):  # a shared title names the shallowest note
            self.by_title.setdefault(titles[p].casefold(), p)

    def find(self, name: str) -> str | None:
        """The note a typed name means: path, path without suffix, file name or alias, as a wiki link; then title."""
        target = name.strip().strip("/")
        if not target:
            return None
        return self.resolve("", Link(target=target, kind="wiki")) or self.by_title.get(target.casefold())

    def resolve(self, source_path: str, link: Link) -> str | None:
        target = link.target.strip().replace("\\", "/")
        if link.kind == "markdown" and not target.startswith("/"):
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(source_path), target))
            candidates = [joined, target]
        else:
            candidates = [target.lstrip("/")]
        for candidate in candidates:
            key = candidate.casefold()
            if key in self.by_path:
                return self.by_path[key]
            if key in self.by_path_no_ext:
                return self.by_path_no_ext[key]
            for suffix in NOTE_SUFFIXES:
                if key + suffix in self.by_path:
                    return self.by_path[key + suffix]
        stripped = target.rstrip("/")
        stripped = stripped.rsplit(".", 1)[0] if is_note_name(stripped) else stripped
        matches = self.by_name.get(posixpath.basename(stripped).casefold(), [])
        if "/" in stripped:  # [[folder/name]]: the notes in such a folder first
            ending = "/" + stripped.lstrip("/").casefold()
            matches = [p for p in matches if p.rsplit(".", 1)[0].casefold().endswith(ending)] or matches
        if matches:  # Obsidian picks the closest; we pick the shortest path, deterministically
            return min(matches, key=lambda p: (p.count("/"), p))
        return self.by_alias.get(target.casefold())
