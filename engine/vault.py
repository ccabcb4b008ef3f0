"""Find and read the notes of a vault folder, turning every bad file into a recorded reason.

Reading never raises for a file's fault: a binary file, broken UTF-8, a huge file, a FIFO, a
symlink loop, a permission error or a file that vanished mid-read comes back as `Skipped`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .markdown import Link, ParsedNote, parse_note

NOTE_SUFFIXES = (".md", ".markdown")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192


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


def folder_of(path: str) -> str:
    """The vault-relative folder of a note path; '' at the vault's top."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def is_excluded(relative: str, exclude: tuple[str, ...]) -> bool:
    parts = relative.split("/")
    if any(part.startswith(".") for part in parts):
        return True  # hidden folders and files: .obsidian, .git, .trash
    for pattern in exclude:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(part, pattern) for part in parts[:-1]):
            return True
        if relative.startswith(pattern + "/"):
            return True
    return False


def is_note_name(name: str) -> bool:
    return name.lower().endswith(NOTE_SUFFIXES)


def scan(root: Path, exclude: tuple[str, ...] = ()) -> ScanResult:
    """Walk the vault, following symlinked folders once (loops are recorded, not followed)."""
    root = Path(root)
    result = ScanResult()
    visited: set[tuple[int, int]] = set()

    def walk(folder: Path, relative_folder: str) -> None:
        try:
            folder_stat = folder.stat()
        except OSError as error:
            result.skipped.append(Skipped(relative_folder or ".", f"folder unreadable: {error.strerror or error}"))
            return
        identity = (folder_stat.st_dev, folder_stat.st_ino)
        if identity in visited:
            result.skipped.append(Skipped(relative_folder, "symlink loop: folder already visited"))
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
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                walk(Path(entry.path), relative)
                continue
            if not is_note_name(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=True)
            except OSError as error:
                reason = "broken symlink" if entry.is_symlink() else f"unreadable: {error.strerror or error}"
                result.skipped.append(Skipped(relative, reason))
                continue
            if not stat.S_ISREG(info.st_mode):
                result.skipped.append(Skipped(relative, "not a regular file"))
                continue
            result.files[relative] = FileStat(relative, info.st_mtime_ns, info.st_size)

    walk(root, "")
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
    """Read and parse one note, or say why it can't be used."""
    path = Path(root) / file.path
    if file.size > max_bytes:
        return Skipped(file.path, f"too large ({file.size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB limit)", file.mtime_ns, file.size)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return Skipped(file.path, "vanished while indexing", file.mtime_ns, file.size)
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
    parsed = parse_note(source, PurePosixPath(file.path).stem)
    return Note(file.path, file.mtime_ns, len(data), content_hash(data), parsed)


class LinkResolver:
    """Resolve link targets to note paths as Obsidian does: exact path, then unique file name, then alias."""

    def __init__(self, paths: list[str], aliases: dict[str, list[str]] | None = None):
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

    def resolve(self, source_path: str, link: Link) -> str | None:
        target = link.target.strip().replace("\\", "/")
        if link.kind == "markdown" and not target.startswith("/"):
            joined = os.path.normpath(str(PurePosixPath(source_path).parent / target)).replace("\\", "/")
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
        name = PurePosixPath(target).name
        name = name.rsplit(".", 1)[0] if is_note_name(name) else name
        matches = self.by_name.get(name.casefold(), [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:  # Obsidian picks the closest; we pick the shortest path, deterministically
            return sorted(matches, key=lambda p: (p.count("/"), p))[0]
        return self.by_alias.get(target.casefold())
