"""Parse one Markdown note the way Obsidian reads it (frontmatter, title, tags, links, plain text), and add tags
to its frontmatter in the style it already uses.

Pure functions over a string; no file system, no model. This module holds every rule of Markdown syntax the
project has: training imports it so that the notes it learns from are read exactly as the engine reads them,
and the app's preview so that it shows the frontmatter and links the engine found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import unquote

import yaml

# libyaml's parser when PyYAML was built with it: the pure-Python one was most of a note's read time.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
FENCED_CODE = re.compile(r"^( {0,3})(`{3,}|~{3,})[^\n]*\n.*?(?:^\1?\2[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1", re.DOTALL)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
WIKILINK = re.compile(r"(!?)\[\[([^\]\n|#]*)(#[^\]\n|]*)?(?:\|([^\]\n]*))?\]\]")
MD_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Obsidian tags: '#' after start or whitespace, then letters/digits/_-/ with at least one non-digit.
INLINE_TAG = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[(,]))#([\w/-]*[^\W\d][\w/-]*)", re.UNICODE | re.MULTILINE)
H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
HEADING_MARK = re.compile(r"^#{1,6}[ \t]+", re.MULTILINE)
HTML_TAG = re.compile(r"</?[A-Za-z][^>\n]*>")
EMPHASIS = re.compile(r"(\*\*|__|\*|~~|==)(?=\S)(.+?)(?<=\S)\1")
LIST_MARK = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+(?:\[[ xX]\][ \t]+)?", re.MULTILINE)
BLOCKQUOTE = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)
TABLE_RULE = re.compile(r"^[ \t|:-]+$", re.MULTILINE)
BLANK_LINES = re.compile(r"\n{3,}")
SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Link:
    """A link as written in a note; `target` is still unresolved (see vault.LinkResolver)."""

    target: str
    kind: str  # "wiki" or "markdown"
    text: str = ""


@dataclass(frozen=True)
class WikiLink:
    """`[[target#heading|label]]` (or an embed, `![[...]]`) as written: for showing it, not resolving it."""

    target: str
    heading: str  # "#Heading", or "" for the whole note
    label: str  # "" when the link shows its target


@dataclass
class ParsedNote:
    title: str
    body: str  # the note without its frontmatter, as written
    text: str  # plain text for the model: no frontmatter, markup or link syntax
    tags: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    category: str | None = None
    frontmatter: dict = field(default_factory=dict)
    frontmatter_error: str | None = None


def split_frontmatter(source: str) -> tuple[str | None, str]:
    """Return (frontmatter YAML text or None, body)."""
    match = FRONTMATTER.match(source)
    if not match:
        return None, source
    return match.group(1) or "", source[match.end():]


def load_frontmatter(yaml_text: str | None) -> tuple[dict, str | None]:
    """Parse frontmatter YAML; a broken block gives ({}, reason) instead of raising."""
    if yaml_text is None:
        return {}, None
    try:
        data = yaml.load(yaml_text, Loader=YAML_LOADER)
    except yaml.YAMLError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return {}, f"frontmatter is not valid YAML ({first_line}); ignored"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, "frontmatter is not a mapping; ignored"
    return data, None


def _as_list(value, separators: str = r"[,\s]+") -> list[str]:
    """Frontmatter lists come as YAML lists or as separated strings (tags: commas or spaces)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = re.split(separators, str(value))
    return [str(item).strip() for item in items if item is not None and str(item).strip()]


def clean_tag(tag: str) -> str:
    return tag.strip().lstrip("#").strip()


def _outside(pattern: re.Pattern, text: str, change: Callable[[str], str]) -> str:
    """`text` with `change` applied to the stretches between `pattern`'s matches; the matches stay as written."""
    pieces, start = [], 0
    for match in pattern.finditer(text):
        pieces += [change(text[start:match.start()]), match.group(0)]
        start = match.end()
    return "".join(pieces) + change(text[start:])


def replace_wikilinks(body: str, replace: Callable[[WikiLink], str]) -> str:
    """`body` with each wikilink outside code (fenced blocks, inline spans) replaced by `replace(link)`."""

    def in_prose(text: str) -> str:
        return WIKILINK.sub(lambda m: replace(WikiLink(m.group(2), m.group(3) or "", m.group(4) or "")), text)

    return _outside(FENCED_CODE, body, lambda text: _outside(INLINE_CODE, text, in_prose))


def strip_code(body: str) -> str:
    """Blank out fenced code, inline code and HTML comments, where tags and links do not count."""
    body = FENCED_CODE.sub("", body)
    body = HTML_COMMENT.sub("", body)
    return INLINE_CODE.sub("", body)


def plain_text(body: str) -> str:
    """Turn Markdown into the plain text the model reads: link text kept, syntax dropped."""
    text = HTML_COMMENT.sub("", body)
    text = FENCED_CODE.sub(lambda m: "\n" + "\n".join(m.group(0).splitlines()[1:-1]) + "\n", text)
    text = WIKILINK.sub(lambda m: "" if m.group(1) else (m.group(4) or m.group(2)).strip(), text)
    text = MD_LINK.sub(lambda m: "" if m.group(1) else m.group(2), text)
    text = HTML_TAG.sub("", text)
    text = HEADING_MARK.sub("", text)
    text = LIST_MARK.sub("", text)
    text = BLOCKQUOTE.sub("", text)
    text = TABLE_RULE.sub("", text)
    text = EMPHASIS.sub(r"\2", text)
    text = text.replace("`", "").replace("|", " ")
    text = SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.splitlines())
    return BLANK_LINES.sub("\n\n", text).strip()


def is_external_target(target: str) -> bool:
    """A Markdown link target that is not a note: a URL, mailto:, or an in-page anchor."""
    return bool(URL_SCHEME.match(target)) or target.startswith("#")


def _wiki_link(match: re.Match) -> Link | None:
    target = match.group(2).strip()
    return Link(target=target, kind="wiki", text=(match.group(4) or "").strip()) if target else None


def _markdown_link(match: re.Match) -> Link | None:
    """The note a `[text](target)` points to (its #anchor dropped, %-escapes undone); None for the web or an anchor."""
    target = match.group(3).strip()
    if is_external_target(target):
        return None
    target = unquote(target.split("#", 1)[0])
    return Link(target=target, kind="markdown", text=match.group(2).strip()) if target else None


def remove_links(source: str, drop: Callable[[Link], bool]) -> str:
    """`source` without the wikilinks, embeds and note-to-note Markdown links for which `drop(link)` holds, whole."""

    def cut(link_of: Callable[[re.Match], Link | None]) -> Callable[[re.Match], str]:
        def replacement(match: re.Match) -> str:
            link = link_of(match)
            return "" if link is not None and drop(link) else match.group(0)

        return replacement

    return MD_LINK.sub(cut(_markdown_link), WIKILINK.sub(cut(_wiki_link), source))


def strip_links(source: str) -> str:
    """`source` without any wikilink, embed or note-to-note Markdown link, their words included.

    For evaluating link prediction: a link's text names its target, so a query note that kept it
    would hand the answer over. Links to the web stay."""
    source = WIKILINK.sub("", source)
    return MD_LINK.sub(lambda m: m.group(0) if is_external_target(m.group(3).strip()) else "", source)


def parse_links(body: str) -> list[Link]:
    code_free = strip_code(body)
    found = [_wiki_link(match) for match in WIKILINK.finditer(code_free)]
    found += [_markdown_link(match) for match in MD_LINK.finditer(code_free)]
    return [link for link in found if link is not None]


def parse_inline_tags(body: str) -> list[str]:
    code_free = strip_code(body)
    code_free = re.sub(r"\]\([^)]*\)", "]", code_free)  # '#anchor' inside link targets is no tag
    return [match.group(1) for match in INLINE_TAG.finditer(code_free)]


def unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for item in items:
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            result.append(item)
    return result


def parse_note(source: str, file_stem: str) -> ParsedNote:
    """Parse a note's full source; `file_stem` is the file name without extension (title fallback)."""
    yaml_text, body = split_frontmatter(source)
    frontmatter, frontmatter_error = load_frontmatter(yaml_text)

    title = frontmatter.get("title")
    if not isinstance(title, str) or not title.strip():
        heading = H1.search(strip_code(body))
        title = heading.group(1) if heading else file_stem
    title = plain_text(title.strip()) or file_stem

    tags = [clean_tag(t) for t in _as_list(frontmatter.get("tags")) + _as_list(frontmatter.get("tag"))]
    tags = unique([t for t in tags + parse_inline_tags(body) if t])
    aliases = unique(_as_list(frontmatter.get("aliases"), ",") + _as_list(frontmatter.get("alias"), ","))
    category = frontmatter.get("category")
    category = str(category).strip() if category not in (None, "") and not isinstance(category, (list, dict)) else None

    return ParsedNote(
        title=title,
        body=body,
        text=plain_text(body),
        tags=tags,
        aliases=aliases,
        links=parse_links(body),
        category=category,
        frontmatter=frontmatter,
        frontmatter_error=frontmatter_error,
    )


# --- editing the frontmatter ----------------------------------------------------------------------
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
