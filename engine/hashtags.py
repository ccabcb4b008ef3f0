"""Hashtags: read the model's generated topics, and write accepted tags into a note safely.

Writing is the only place the engine changes a user's note. It edits the frontmatter's `tags`
in the style the note already uses, keeps every other byte, refuses if the file changed since it
was read, and replaces the file atomically.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import yaml

from .errors import NoteChangedError, NoteLLMError
from .markdown import FRONTMATTER, load_frontmatter, parse_note
from .vault import content_hash

MAX_TAG_CHARS = 40
MAX_TAG_WORDS = 4
TAG_SEPARATORS = re.compile(r"[,，、;；\n]|(?=#)")


def tag_key(tag: str) -> str:
    """Spelling-insensitive identity of a tag: 'Machine Learning', '#machine-learning' -> 'machinelearning'."""
    return re.sub(r"[\W_]+", "", tag.casefold())


def normalise_tag(raw: str) -> str | None:
    """Clean one generated topic into an Obsidian-valid tag, or None when it is not tag-like."""
    tag = raw.strip().strip("\"'“”‘’.。:：()[]{}<>").lstrip("#").strip()
    if not tag or len(tag) > MAX_TAG_CHARS or len(tag.split()) > MAX_TAG_WORDS:
        return None
    tag = re.sub(r"\s+", "-", tag)
    tag = re.sub(r"[^\w/-]", "", tag).strip("-/")
    if not tag or tag.isdigit():
        return None
    return tag


def parse_topics(generated: str, vault_tags: list[str] = (), exclude: list[str] = (), limit: int = 10) -> list[str]:
    """Split generated text into tags: normalised, deduplicated, in the vault's own spelling when one exists."""
    known = {tag_key(tag): tag for tag in vault_tags}
    taken = {tag_key(tag) for tag in exclude}
    tags: list[str] = []
    for piece in TAG_SEPARATORS.split(generated):
        tag = normalise_tag(piece)
        if tag is None:
            continue
        key = tag_key(tag)
        if not key or key in taken:
            continue
        taken.add(key)
        tags.append(known.get(key, tag))
        if len(tags) == limit:
            break
    return tags


def _newline(text: str) -> str:
    """The line ending the note starts with (a note may mix them; we match its first line)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _format_tag(tag: str) -> str:
    """A tag as a YAML scalar, quoted only when YAML would misread it."""
    dumped = yaml.safe_dump(tag, default_style=None, allow_unicode=True).strip()
    return dumped.removesuffix("\n...").removesuffix("...").strip()


def add_tags_to_source(source: str, new_tags: list[str]) -> str:
    """Return `source` with `new_tags` added to its frontmatter `tags`, everything else byte-identical."""
    nl = _newline(source)
    formatted = [_format_tag(tag) for tag in new_tags]
    match = FRONTMATTER.match(source)
    if match is None:
        return f"---{nl}tags: [{', '.join(formatted)}]{nl}---{nl}" + source
    yaml_start = source.index("\n") + 1
    yaml_text = match.group(1) or ""
    yaml_end = yaml_start + len(yaml_text)
    lines = yaml_text.splitlines(keepends=True)
    edited = _add_to_yaml_lines(lines, formatted, nl)
    return source[:yaml_start] + "".join(edited) + source[yaml_end:]


def _add_to_yaml_lines(lines: list[str], tags: list[str], nl: str) -> list[str]:
    key_line = next((i for i, line in enumerate(lines) if re.match(r"^tags\s*:", line)), None)
    if key_line is None:
        return lines + [f"tags: [{', '.join(tags)}]{nl}"]
    line = lines[key_line]
    ending = line[len(line.rstrip("\r\n")):] or nl
    value = line.rstrip("\r\n").split(":", 1)[1]
    stripped = value.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        inner = stripped[1:-1].strip()
        new_value = "[" + ", ".join(([inner] if inner else []) + tags) + "]"
        lines[key_line] = line[: line.index(":") + 1] + " " + new_value + ending
        return lines
    if stripped and not stripped.startswith(("|", ">")):
        separator = ", " if "," in stripped else " "
        lines[key_line] = line.rstrip("\r\n") + separator + separator.join(tags) + ending
        return lines
    # Block list: append items after the last one, with the same indentation.
    last_item = key_line
    indent = "  "
    for i in range(key_line + 1, len(lines)):
        item = re.match(r"^(\s*)-\s", lines[i])
        if item:
            last_item, indent = i, item.group(1)
        elif lines[i].strip() and not lines[i].startswith((" ", "\t")):
            break
    if last_item == key_line and not stripped:
        lines[key_line] = line.rstrip("\r\n").rstrip() + ending
    item_ending = lines[last_item][len(lines[last_item].rstrip("\r\n")):] or nl
    if last_item != key_line and not lines[last_item].endswith(("\n", "\r")):
        lines[last_item] += nl
    new_items = [f"{indent}- {tag}{item_ending}" for tag in tags]
    return lines[: last_item + 1] + new_items + lines[last_item + 1:]


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
