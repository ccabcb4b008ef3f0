"""Hashtags: read the model's generated topics, and write accepted tags into a note safely.

Writing is the only place the engine changes a user's note. It edits the frontmatter's `tags`
in the style the note already uses (`markdown.add_tags_to_source`), keeps every other byte, refuses
if the file changed since it was read, and replaces the file atomically.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import NamedTuple

from .errors import NoteChangedError, NoteLLMError
from .markdown import FRONTMATTER, add_tags_to_source, load_frontmatter, parse_note
from .vault import content_hash

MAX_TAG_CHARS = 40
MAX_TAG_WORDS = 4
TAG_SEPARATORS = re.compile(r"[,，、;；\n]|(?=#)")
NUMBERED_COPY = re.compile(r"(.*\D)\d+")  # a tag key that is another's plus a number


def tag_key(tag: str) -> str:
    """Spelling-insensitive identity of a tag: 'Machine Learning', '#machine-learning' -> 'machinelearning'."""
    return re.sub(r"[\W_]+", "", tag.casefold())


class NormalisedTag(NamedTuple):
    tag: str | None  # the Obsidian-valid tag, or None when the text cannot be one
    why: str | None  # why it cannot, in words a user reads; None when it can


def normalise_tag_with_reason(raw: str) -> NormalisedTag:
    """The one rule for tags: clean a topic or a typed tag into an Obsidian-valid tag, or say why it can't be one."""
    core = raw.strip().strip("\"'“”‘’.。:：()[]{}<>").lstrip("#").strip()
    if len(core) > MAX_TAG_CHARS:
        return NormalisedTag(None, f"longer than {MAX_TAG_CHARS} characters")
    if len(core.split()) > MAX_TAG_WORDS:
        return NormalisedTag(None, f"more than {MAX_TAG_WORDS} words")
    tag = re.sub(r"[^\w/-]", "", re.sub(r"\s+", "-", core)).strip("-/")
    if not tag:
        return NormalisedTag(None, "no letters or digits to make a tag of")
    if tag.isdigit():
        return NormalisedTag(None, "only digits (a tag needs a letter)")
    return NormalisedTag(tag, None)


def normalise_tag(raw: str) -> str | None:
    """Clean one generated topic into an Obsidian-valid tag, or None when it is not tag-like."""
    return normalise_tag_with_reason(raw).tag


def parse_topics(generated: str, vault_tags: list[str] = (), exclude: list[str] = (), limit: int = 10) -> list[str]:
    """Split generated text into tags: normalised, deduplicated, in the vault's own spelling when one exists.
    A numbered copy of a topic already taken (`#math-2` after `#math`: a small model's way of going on) is a repeat."""
    known = {tag_key(tag): tag for tag in vault_tags}
    taken = {tag_key(tag) for tag in exclude}
    tags: list[str] = []
    for piece in TAG_SEPARATORS.split(generated):
        tag = normalise_tag(piece)
        if tag is None:
            continue
        key = tag_key(tag)
        numbered = NUMBERED_COPY.fullmatch(key)
        if not key or key in taken or (numbered and numbered.group(1) in taken):
            continue
        taken.add(key)
        tags.append(known.get(key, tag))
        if len(tags) == limit:
            break
    return tags


def apply_tags(note_file: Path, tags: list[str], expected_hash: str | None = None) -> list[str]:
    """Add `tags` to the note's frontmatter atomically; returns the tags actually added.

    Raises NoteChangedError when the file no longer has `expected_hash` (edited since indexing).
    """
    note_file = Path(note_file)
    data = note_file.read_bytes()
    if expected_hash is not None and content_hash(data) != expected_hash:
        raise NoteChangedError(f"{note_file.name} changed on disk since it was indexed; reindex and try again")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NoteLLMError(f"{note_file.name} is not valid UTF-8; not editing it") from error
    yaml_text = FRONTMATTER.match(source)
    if yaml_text and load_frontmatter(yaml_text.group(1))[1]:
        raise NoteLLMError(f"{note_file.name} has frontmatter that is not valid YAML; fix it before adding tags")
    existing = {tag_key(tag) for tag in parse_note(source, note_file.stem).tags}
    to_add = []
    for tag in tags:
        clean = normalise_tag(tag)
        if clean and tag_key(clean) not in existing:
            existing.add(tag_key(clean))
            to_add.append(clean)
    if not to_add:
        return []
    updated = add_tags_to_source(source, to_add)
    check = parse_note(updated, note_file.stem)
    if not {tag_key(t) for t in to_add} <= {tag_key(t) for t in check.tags} or check.frontmatter_error:
        raise NoteLLMError(f"could not add tags to {note_file.name} without changing its meaning; left it untouched")
    atomic_write(note_file, updated.encode("utf-8"))
    return to_add


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file, never half."""
    mode = path.stat().st_mode & 0o7777
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
