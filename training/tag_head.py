"""A model's tag head (`engine.tag_head`), learnt from the training corpus's tagged notes.

Each vault's tag that at least `min_notes` of its notes carry teaches one direction: the mean of those
notes' embeddings (the model's own, of the text with inline #tags cut, as an untagged vault shows it).
A tag used by several vaults, in any spelling (`web-dev`, `webdev`), gets the mean of their directions, so
no single vault outweighs the rest.
A hierarchical tag is named by its last part (`category/java` -> `java`): that is the topic, the rest is
one vault's filing scheme; a tag that names one vault's own thing (a course code, a chapter) is left out.

Only tag names and directions travel with the model, never a note. Measured on the untagged protocol
(`bench/heldout.py`, docs/benchmarks.md).
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from notellm.engine.hashtags import normalise_tag, tag_key
from notellm.engine.markdown import INLINE_TAG
from notellm.engine.tag_head import TagHead
from notellm.engine.vault import folder_of

HEAD_TAG_WORDS = 2


@dataclass
class TagHeadConfig:
    min_notes: int = 3  # a vault's tag carried by fewer notes teaches nothing
    notes_per_tag: int = 20  # at most this many of a vault's notes per tag are embedded (a seeded choice)
    seed: int = 0


def head_tag(raw: str) -> str | None:
    """The tag a head proposes for a corpus tag: its last part, casefolded, Obsidian-valid; None if it can't be one
    or names one vault's own thing rather than a topic: a digit in it (`mte220`, `topic-2`, `chap-23`) or
    more than `HEAD_TAG_WORDS` words (`placa-stm32-f302r8`)."""
    leaf = normalise_tag(raw.rsplit("/", 1)[-1])
    if not leaf or any(ch.isdigit() for ch in leaf) or len(re.split(r"[-_]+", leaf)) > HEAD_TAG_WORDS:
        return None
    return leaf.casefold()


def vault_tag_groups(notes: Sequence[dict]) -> dict[tuple[str, str], list[int]]:
    """(vault, head tag) -> positions of the notes that carry it; `notes` hold "vault" and "tags"."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, note in enumerate(notes):
        for tag in dict.fromkeys(filter(None, map(head_tag, note["tags"]))):
            groups[(note["vault"], tag)].append(position)
    return groups


def notes_to_embed(notes: Sequence[dict], config: TagHeadConfig) -> list[int]:
    """Positions of the notes whose embeddings build the head: up to `notes_per_tag` per vault's tag."""
    chosen: set[int] = set()
    rng = random.Random(config.seed)
    for _, positions in sorted(vault_tag_groups(notes).items()):
        if len(positions) >= config.min_notes:
            chosen.update(rng.sample(positions, min(len(positions), config.notes_per_tag)))
    return sorted(chosen)


def build_tag_head(notes: Sequence[dict], embed: Callable[[list[int]], np.ndarray], config: TagHeadConfig = TagHeadConfig()) -> TagHead:
    """The head from tagged notes ({"id", "vault", "title", "text", "tags"}); `embed(positions)` returns their unit embeddings."""
    positions = notes_to_embed(notes, config)
    return head_from_vectors(notes, dict(zip(positions, embed(positions))), config)


def head_from_vectors(notes: Sequence[dict], vectors: dict[int, np.ndarray], config: TagHeadConfig = TagHeadConfig()) -> TagHead:
    """The head from the embeddings of some of the notes, by position."""
    directions: dict[str, list[np.ndarray]] = defaultdict(list)  # by tag_key: `web-dev` and `webdev` are one tag
    spellings: dict[str, Counter] = defaultdict(Counter)
    for (_, tag), members in sorted(vault_tag_groups(notes).items()):
        members = [p for p in members if p in vectors]
        if len(members) >= config.min_notes:
            mean = np.mean([vectors[p] for p in members], axis=0)
            directions[tag_key(tag)].append(mean / np.linalg.norm(mean))
            spellings[tag_key(tag)][tag] += len(members)
    keys = sorted(directions)
    if not keys:
        raise ValueError(f"no tag is carried by {config.min_notes} notes of one vault: nothing to learn a tag head from")
    rows = np.array([np.mean(directions[key], axis=0) for key in keys], dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    # the spelling most of its notes use (ties: the first in sorted order)
    names = tuple(min(spellings[key], key=lambda tag: (-spellings[key][tag], tag)) for key in keys)
    return TagHead(names, rows)


def model_embedding(model, notes: Sequence[dict], content_tokens: int, cache: Path | None = None, batch: int = 32,
                    done: Callable[[int], None] = lambda count: None) -> Callable[[list[int]], np.ndarray]:
    """`embed(positions)` for `build_tag_head` through a loaded `engine.model.NoteModel`: each note's title, folder
    and text with the inline #tags cut, as an untagged vault shows it; `done(count)` after each batch.
    With `cache` (.npz), vectors are saved there by note id after every `SAVE_EVERY` notes and read back on
    the next run with the same model file, so a stopped run resumes."""

    def embed(positions: list[int]) -> np.ndarray:
        saved = EmbeddingCache.load(cache, model.path) if cache else EmbeddingCache(model.path, {})
        for start in range(0, len(positions), batch):
            chosen = [notes[p] for p in positions[start:start + batch]]
            missing = [note for note in chosen if note["id"] not in saved.vectors]
            if missing:
                vectors = model.embed_notes([(note["title"], INLINE_TAG.sub("", note["text"]), folder_of(note["path"]))
                                             for note in missing], content_tokens)
                saved.vectors.update(zip((note["id"] for note in missing), vectors))
                if cache and (start // batch) % (SAVE_EVERY // batch) == 0:
                    saved.save(cache)
            done(len(chosen))
        if cache:
            saved.save(cache)
        return np.array([saved.vectors[notes[p]["id"]] for p in positions], dtype=np.float32).reshape(len(positions), -1)

    return embed


SAVE_EVERY = 1024


@dataclass
class EmbeddingCache:
    """Note id -> vector, for one model file (its size and modification time)."""

    model: Path
    vectors: dict[str, np.ndarray]

    @staticmethod
    def identity(model: Path) -> str:
        stat = Path(model).stat()
        return f"{Path(model).name}:{stat.st_size}:{stat.st_mtime_ns}"

    @classmethod
    def load(cls, path: Path, model: Path) -> "EmbeddingCache":
        if Path(path).exists():
            with np.load(path) as saved:
                if str(saved["model"]) == cls.identity(model):
                    return cls(model, dict(zip(saved["ids"].tolist(), saved["vectors"])))
        return cls(model, {})

    def save(self, path: Path) -> None:
        ids = list(self.vectors)
        vectors = np.array([self.vectors[i] for i in ids], dtype=np.float32)
        part = Path(path).with_name(Path(path).name + ".part.npz")
        np.savez(part, model=self.identity(self.model), ids=np.array(ids), vectors=vectors)
        part.replace(path)
