"""`VaultIndex`: the engine's public API over one notes folder.

    index = VaultIndex.open("~/vault")
    index.reindex(progress=print)
    index.related("Linear algebra.md", k=10)
    index.suggest_tags("Linear algebra.md")
    index.apply_tags("Linear algebra.md", ["math"])

Every method is safe to call from one worker thread while another thread waits; the GUI calls it
only from background tasks. Writers take a lock file, so two processes never index at once.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import hashtags, lexical
from .config import index_dir_for, make_private_dir, model_fingerprint, resolve_model
from .errors import (
    IndexCorruptError,
    IndexLockedError,
    NoteNotFoundError,
    TagRejectedError,
    VaultNotFoundError,
    WriteRefusedError,
)
from .keywords import keywords
from .lock import FileLock
from .markdown import Link
from .neighbour_tags import FALLBACK_NEIGHBOURS, neighbour_tags
from .prompt import DEFAULT_CONTENT_TOKENS, DEFAULT_TOPIC_COUNT, PROMPT_VERSION
from .store import Store, decode_vector, encode_vector
from .vault import (
    OUTSIDE_VAULT,
    RETRY_REASONS,
    FileStat,
    LinkResolver,
    Note,
    Skipped,
    content_hash,
    folder_of,
    is_excluded,
    is_inside,
    is_note_name,
    read_note,
    scan,
    stat_note,
)
from .vectors import GENERATION_KEY, TEMP_SUFFIXES, VectorIndex

EMBED_BATCH = 8  # at most this many prompts per llama.cpp decode
BATCH_SECONDS = 2.0  # and no more than about this much work between two commits (a kill loses at most that)
SAVE_EVERY_SECONDS = 20.0
LEXICAL_POOL = 100  # candidates taken from each ranking before fusing them
Progress = Callable[[int, int], None]  # (notes embedded so far, notes to embed)


@dataclass
class ReindexSummary:
    scanned: int = 0
    embedded: int = 0
    unchanged: int = 0
    renamed: int = 0
    removed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    embedded_paths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RelatedNote:
    path: str
    title: str
    folder: str
    score: float
    linked: bool
    reason: str


@dataclass
class SearchHit:
    path: str
    title: str
    folder: str
    score: float


@dataclass
class IndexStatus:
    vault: str
    index_dir: str
    model: str
    notes_on_disk: int
    indexed: int
    stale: int
    skipped: list[dict]
    warnings: list[dict]
    index_bytes: int
    vectors: int

    def as_dict(self) -> dict:
        return asdict(self)


def text_hash(title: str, text: str) -> str:
    return content_hash(f"{title}\0{text}".encode("utf-8"))


def is_corruption(error: sqlite3.DatabaseError) -> bool:
    """A damaged database file, as opposed to a busy one or a bad query."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    return type(error) is sqlite3.DatabaseError and any(
        words in str(error) for words in ("malformed", "not a database", "corrupt")
    )


def corrupt_index_error(vault: Path, error: BaseException) -> IndexCorruptError:
    return IndexCorruptError(
        f"the index of {vault} is damaged ({error}); rebuild it with `notellm-engine reindex {vault} --rebuild`"
    )


def _index_errors(method):
    """A damaged SQLite page surfaces in whatever query reads it: say so once, as IndexCorruptError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            if is_corruption(error):
                raise corrupt_index_error(self.vault, error) from error
            raise

    return wrapper


def tag_rejections(tags: Iterable[str]) -> list[tuple[str, str]]:
    """(tag, why) for each tag that can't be written as an Obsidian tag; the others are fine."""
    rejected = []
    for tag in tags:
        if hashtags.normalise_tag(tag) is not None:
            continue
        core = tag.strip().strip("\"'“”‘’.。:：()[]{}<>").lstrip("#").strip()
        cleaned = re.sub(r"[^\w/-]", "", re.sub(r"\s+", "-", core)).strip("-/")
        if len(core) > hashtags.MAX_TAG_CHARS:
            why = f"longer than {hashtags.MAX_TAG_CHARS} characters"
        elif len(core.split()) > hashtags.MAX_TAG_WORDS:
            why = f"more than {hashtags.MAX_TAG_WORDS} words"
        elif cleaned.isdigit():
            why = "only digits (a tag needs a letter)"
        else:
            why = "no letters or digits to make a tag of"
        rejected.append((tag, why))
    return rejected


class VaultIndex:
    """Settings given as None (model, exclude, content_tokens) are the ones this index was last
    used with, so `related` after `reindex --model X --tokens 64` needs no options."""

    def __init__(
        self,
        vault: Path,
        index_dir: Path,
        model: str | Path | None = None,
        exclude: Iterable[str] | None = None,
        content_tokens: int | None = None,
        threads: int | None = None,
    ):
        self.vault = vault
        self.index_dir = index_dir
        make_private_dir(index_dir)  # an index holds the words of private notes
        try:
            self.store = Store(index_dir / "index.db")
            remembered = json.loads(self.store.get_meta("settings", "{}"))
        except IndexCorruptError as error:
            raise corrupt_index_error(vault, error.__cause__ or error) from error
        except sqlite3.DatabaseError as error:
            if is_corruption(error):
                raise corrupt_index_error(vault, error) from error
            raise
        chosen_model = str(Path(model).expanduser().resolve()) if model is not None else remembered.get("model")
        self.model_path = resolve_model(chosen_model)  # no explicit choice: the default, which may get upgraded
        self.exclude = tuple(remembered.get("exclude", ()) if exclude is None else exclude)
        self.content_tokens = content_tokens or remembered.get("content_tokens") or DEFAULT_CONTENT_TOKENS
        # Remembered only by a reindex that succeeds or by remember_settings(), never by merely opening.
        self.settings = {"model": chosen_model, "exclude": list(self.exclude), "content_tokens": self.content_tokens}
        self._remembered = remembered
        self.threads = threads
        self.embedder_id = f"{model_fingerprint(self.model_path)}:p{PROMPT_VERSION}:t{self.content_tokens}"
        self.lock = FileLock(index_dir / "writer.lock")
        self._model = None
        self._vectors: VectorIndex | None = None
        self._mutex = threading.RLock()
        # Related notes and search fuse the model's ranking with shared words (engine/lexical.py); False
        # ranks by the model's similarity alone.
        self.fuse_lexical = True

    @classmethod
    def open(
        cls,
        vault: str | Path,
        model: str | Path | None = None,
        index_dir: str | Path | None = None,
        exclude: Iterable[str] | None = None,
        content_tokens: int | None = None,
        threads: int | None = None,
        rebuild: bool = False,
    ) -> "VaultIndex":
        """Open (creating if needed) the index of `vault`; the model loads on first use.

        `rebuild` sets the current index file aside (kept in a `damaged-…` folder beside it, never
        deleted) and starts an empty one, e.g. after IndexCorruptError; the next reindex fills it."""
        vault_path = Path(vault).expanduser()
        if not vault_path.is_dir():
            raise VaultNotFoundError(f"vault folder not found: {vault_path}")
        vault_path = vault_path.resolve()
        folder = Path(index_dir).expanduser() if index_dir else index_dir_for(vault_path)
        if rebuild:
            _set_index_aside(vault_path, folder)
        return cls(vault_path, folder, model, None if exclude is None else tuple(exclude), content_tokens, threads)

    @_index_errors
    def remember_settings(self) -> None:
        """Make this index's model, exclusions and token budget the ones later opens use by default
        (one SQLite write: no need to wait for a reindex that another process runs)."""
        with self._mutex:
            self._remember_settings()

    def _remember_settings(self) -> None:
        if self.settings != self._remembered:
            self.store.set_meta("settings", json.dumps(self.settings))
            self._remembered = dict(self.settings)

    def close(self) -> None:
        with self._mutex:
            self.store.close()
            if self._model is not None:
                self._model.close()
                self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- model and vectors ------------------------------------------------------------------
    @property
    def model_loaded(self) -> bool:
        """Whether llama.cpp has loaded the model yet (it loads on the first embedding or suggestion)."""
        return self._model is not None

    @property
    def model(self):
        if self._model is None:
            from .model import NoteModel  # llama.cpp loads only when something needs embedding

            self._model = NoteModel(self.model_path, threads=self.threads, content_tokens=self.content_tokens)
        return self._model

    def _vector_index(self) -> VectorIndex | None:
        dimensions = self.store.get_meta("dimensions")
        if dimensions is None:
            return None
        if self._vectors is None or self._vectors.dimensions != int(dimensions):
            self._vectors = VectorIndex(self.index_dir / "vectors.usearch", int(dimensions))
        self._vectors.load_or_rebuild(self.store)
        return self._vectors

    def _begin_vector_changes(self, dimensions: int | None = None) -> VectorIndex | None:
        """Raise the generation before touching embeddings, so a crash is detected on next open."""
        if dimensions is not None and self.store.get_meta("dimensions") != str(dimensions):
            self.store.set_meta("dimensions", str(dimensions))
        vectors = self._vector_index()
        if vectors is None:
            return None
        generation = int(self.store.get_meta(GENERATION_KEY, "0"))
        if vectors.generation == generation:
            self.store.set_meta(GENERATION_KEY, str(generation + 1))
            vectors.generation = generation + 1
        return vectors

    def _save_vectors(self) -> None:
        if self._vectors is not None and self._vectors.generation is not None:
            self._vectors.save(int(self.store.get_meta(GENERATION_KEY, "0")))

    @contextmanager
    def _writing(self):
        with self._mutex:
            if not self.lock.acquire(timeout=5.0):
                raise IndexLockedError(
                    f"another NoteLLM process ({self.lock.holder()}) is updating the index of {self.vault}; "
                    "wait for it to finish or close it"
                )
            try:
                if self.lock.depth == 1:  # only a writer writes temp files: any left now are a killed writer's
                    for suffix in TEMP_SUFFIXES:
                        (self.index_dir / f"vectors{suffix}").unlink(missing_ok=True)
                yield
            finally:
                self.lock.release()

    # --- indexing ---------------------------------------------------------------------------
    @_index_errors
    def reindex(self, progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> ReindexSummary:
        """Bring the index up to date with the folder: embed new and changed notes, drop deleted ones."""
        with self._writing():
            started = time.perf_counter()
            found = scan(self.vault, self.exclude)
            for temp in found.temp_files:  # left beside a note by a `tags --apply` that was killed
                temp.unlink(missing_ok=True)
            known = self.store.known_files()
            removed = set(known) - set(found.files) - {s.path for s in found.skipped}
            summary = self._update(found.files, removed, found.skipped, known, progress, should_stop)
            if not summary.cancelled:
                self.store.mark_lexical_complete()
            summary.scanned = len(found.files)
            summary.seconds = time.perf_counter() - started
            self._remember_settings()
            return summary

    @_index_errors
    def sync_paths(self, paths: Iterable[str | Path], progress: Progress | None = None) -> ReindexSummary:
        """Update just these files or folders (what the watcher saw change)."""
        with self._writing():
            started = time.perf_counter()
            known = self.store.known_files()
            candidates: dict[str, FileStat] = {}
            pre_skipped: list[Skipped] = []
            removed: set[str] = set()
            for path in paths:
                relative = self.relative_path(path)
                if relative is None or (relative and is_excluded(relative, self.exclude)):
                    continue
                absolute = self.vault / relative if relative else self.vault
                if absolute.is_dir() and not is_inside(absolute, self.vault):
                    pre_skipped.append(Skipped(relative, OUTSIDE_VAULT))
                    removed |= {p for p in known if p.startswith(relative + "/")}
                elif absolute.is_dir():
                    found = scan(absolute, self.exclude, boundary=self.vault)
                    prefix = f"{relative}/" if relative else ""
                    candidates.update({prefix + p: FileStat(prefix + p, f.mtime_ns, f.size) for p, f in found.files.items()})
                    pre_skipped += [Skipped(prefix + s.path, s.reason) for s in found.skipped]
                    removed |= {p for p in known if p.startswith(prefix) and not (self.vault / p).exists()}
                elif is_note_name(relative):
                    file = stat_note(self.vault, relative)
                    if file is not None:
                        candidates[relative] = file
                    elif relative in known:
                        removed.add(relative)
                else:
                    removed |= {p for p in known if p.startswith(relative + "/")}
            summary = self._update(candidates, removed, pre_skipped, known, progress, None)
            summary.scanned = len(candidates)
            summary.seconds = time.perf_counter() - started
            return summary

    def _update(self, files, removed, pre_skipped, known, progress, should_stop) -> ReindexSummary:
        summary = ReindexSummary()
        backfill = not self.store.lexical_complete()  # an index made before lexical matching reads every note once
        to_read = [
            f for path, f in files.items()
            if backfill or path not in known
            or known[path][1:3] != (f.mtime_ns, f.size)
            or (known[path][5] is None and known[path][4] != self.embedder_id)
            or (known[path][5] or "").startswith(RETRY_REASONS)  # e.g. after chmod: same mtime and size
        ]
        summary.unchanged = len(files) - len(to_read)

        removed_rows = {path: known[path] for path in removed}
        moved_from: dict[str, int] = {}  # text hash -> id of a removed note that can be renamed
        if removed_rows:
            ids = [row[0] for row in removed_rows.values()]
            for row in self.store.db.execute(
                f"select id, text_hash from notes where id in ({','.join('?' * len(ids))}) and embedded_with = ?",
                [*ids, self.embedder_id],
            ):
                moved_from.setdefault(row[1], row[0])

        # Decide first, write afterwards: a model that can't be loaded fails before anything changed.
        skips: list[Skipped] = list(pre_skipped)
        updates: list[tuple[int, dict]] = []  # (id, record): text and model unchanged, or a rename
        to_embed: list[Note] = []
        for file in to_read:
            note = read_note(self.vault, file)
            if isinstance(note, Skipped):
                skips.append(note)
                continue
            digest = text_hash(note.parsed.title, note.parsed.text)
            row = known.get(note.path)
            reusable = self.store.db.execute(
                "select id from notes where path = ? and text_hash = ? and embedded_with = ? and embedding is not null",
                [note.path, digest, self.embedder_id],
            ).fetchone()
            if reusable:
                updates.append((reusable[0], self._record(note, digest), note))
                summary.unchanged += 1
            elif row is None and digest in moved_from:
                updates.append((moved_from.pop(digest), {"path": note.path, **self._record(note, digest)}, note))
                summary.renamed += 1
            else:
                to_embed.append(note)
        if to_embed:
            self.model  # noqa: B018 (loads it, or raises ModelError with the index untouched)

        dropped: list[int] = []  # notes whose vector leaves the USearch index
        with self.store.transaction():
            for skip in skips:
                dropped += self._record_skip(skip)
                summary.skipped += 1
            for note_id, record, note in updates:
                self.store.update_note(note_id, record)
                self.store.set_lexical(note_id, lexical.document(note.parsed.title, note.parsed.text))
            for note in to_embed:
                # Listed at once (the app shows it), marked unembedded until its batch is done;
                # a changed note keeps answering with its previous vector meanwhile.
                digest = text_hash(note.parsed.title, note.parsed.text)
                note_id = self.store.upsert_note({"path": note.path, **self._record(note, digest), "embedded_with": None})
                self.store.set_lexical(note_id, lexical.document(note.parsed.title, note.parsed.text))
        self._drop_vectors(dropped)

        self._embed(to_embed, summary, progress, should_stop)

        gone = [
            row[0] for path, row in removed_rows.items()
            if self.store.db.execute("select 1 from notes where id = ? and path = ?", [row[0], path]).fetchone()
        ]
        if gone:
            self._begin_vector_changes()
            with self.store.transaction():
                self.store.delete_notes(gone)
            self._drop_vectors(gone)
            summary.removed = len(gone)

        if to_read or removed or pre_skipped:
            self._rebuild_links()
        self._save_vectors()
        return summary

    def _drop_vectors(self, ids: list[int]) -> None:
        """Take these notes out of USearch (after SQLite no longer has their vectors)."""
        if ids and self._vectors is not None:
            self._vectors.remove_many(ids, self.store)

    def _embed(self, notes: list[Note], summary: ReindexSummary, progress, should_stop) -> None:
        """Embed and commit in batches of at most EMBED_BATCH notes and about BATCH_SECONDS of work,
        so that a kill loses at most a couple of seconds (the first batch is one note, to measure)."""
        total = len(notes)
        if progress:
            progress(0, total)
        if not notes:
            return
        last_save = time.monotonic()
        done, size = 0, 1
        while done < total:
            if should_stop and should_stop():
                summary.cancelled = True
                break
            batch = notes[done:done + size]
            started = time.monotonic()
            vectors_batch = self.model.embed_notes([(n.parsed.title, n.parsed.text) for n in batch], self.content_tokens)
            per_note = max(time.monotonic() - started, 1e-3) / len(batch)
            vectors = self._begin_vector_changes(self.model.dimensions)
            ids = []
            with self.store.transaction():
                for note, vector in zip(batch, vectors_batch):
                    digest = text_hash(note.parsed.title, note.parsed.text)
                    record = self._record(note, digest)
                    record.update(embedding=encode_vector(vector), embedded_with=self.embedder_id)
                    ids.append(self.store.upsert_note({"path": note.path, **record}))
            for note_id, vector in zip(ids, vectors_batch):
                vectors.upsert(note_id, vector)
            done += len(batch)
            size = max(1, min(EMBED_BATCH, int(BATCH_SECONDS / per_note)))
            summary.embedded += len(batch)
            summary.embedded_paths += [n.path for n in batch]
            if progress:
                progress(summary.embedded, total)
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                self._save_vectors()
                last_save = time.monotonic()

    def _record(self, note: Note, digest: str) -> dict:
        parsed = note.parsed
        return {
            "title": parsed.title,
            "folder": folder_of(note.path),
            "mtime_ns": note.mtime_ns,
            "size": note.size,
            "content_hash": note.content_hash,
            "text_hash": digest,
            "tags": json.dumps(parsed.tags, ensure_ascii=False),
            "aliases": json.dumps(parsed.aliases, ensure_ascii=False),
            "category": parsed.category,
            "links": json.dumps([[link.target, link.kind] for link in parsed.links], ensure_ascii=False),
            "keywords": json.dumps(keywords(parsed.title, parsed.text), ensure_ascii=False),
            "warning": parsed.frontmatter_error,
            "skip_reason": None,
            "indexed_at": time.time(),
        }

    def _record_skip(self, skip: Skipped) -> list[int]:
        """Record why a path is not indexed; returns the id whose vector must leave USearch, if any."""
        existing = self.store.db.execute("select id from notes where path = ? and embedding is not null", [skip.path]).fetchone()
        if existing:
            self._begin_vector_changes()
        note_id = self.store.upsert_note(
            {
                "path": skip.path,
                "title": Path(skip.path).stem,
                "folder": folder_of(skip.path),
                "mtime_ns": skip.mtime_ns,
                "size": skip.size,
                "content_hash": None,
                "text_hash": None,
                "skip_reason": skip.reason,
                "embedding": None,
                "embedded_with": None,
                "indexed_at": time.time(),
            }
        )
        self.store.set_lexical(note_id, None)
        return [existing[0]] if existing else []

    def _rebuild_links(self) -> None:
        rows = self.store.db.execute("select id, path, aliases, links from notes where skip_reason is null").fetchall()
        ids = {path: note_id for note_id, path, _, _ in rows}
        resolver = LinkResolver(list(ids), {path: json.loads(aliases or "[]") for _, path, aliases, _ in rows})
        pairs = set()
        for note_id, path, _, links in rows:
            for target, kind in json.loads(links or "[]"):
                resolved = resolver.resolve(path, Link(target=target, kind=kind))
                if resolved and resolved != path:
                    pairs.add((note_id, ids[resolved]))
        with self.store.transaction():
            self.store.replace_links(sorted(pairs))

    # --- queries ----------------------------------------------------------------------------
    def relative_path(self, path: str | Path) -> str | None:
        """A vault-relative '/' path for an absolute or relative path; None if outside the vault."""
        path = Path(path)
        if path.is_absolute():
            if path.is_relative_to(self.vault):
                path = path.relative_to(self.vault)
            elif path.resolve().is_relative_to(self.vault):
                path = path.resolve().relative_to(self.vault)
            else:
                return None
        relative = path.as_posix()
        return "" if relative == "." else relative

    @_index_errors
    def note(self, path: str | Path) -> dict:
        """The index row of a note, found by vault path, path without '.md', file name or title."""
        relative = self.relative_path(path)
        row = self.store.note_by_path(relative) if relative is not None else None
        if row is None and relative is not None:
            matches = self.store.find_notes(relative)
            row = self.store.note_by_id(matches[0]["id"]) if matches else None
        if row is None and relative:
            parents = list(Path(relative).parents)[:-1]  # a note inside a skipped folder (e.g. a link leading outside)
            for parent in parents:
                skipped = self.store.note_by_path(parent.as_posix())
                if skipped and skipped["skip_reason"]:
                    raise NoteNotFoundError(f"{relative} is not indexed: {skipped['path']} {skipped['skip_reason']}")
        if row is None:
            raise NoteNotFoundError(f"no note {str(path)!r} in the index of {self.vault}; check the name or run reindex")
        if row["skip_reason"]:
            raise NoteNotFoundError(f"{row['path']} is not indexed: {row['skip_reason']}")
        if row["embedding"] is None:
            raise NoteNotFoundError(f"{row['path']} is not embedded yet; run reindex")
        return row

    @_index_errors
    def notes(self) -> list[dict]:
        """All notes in the index (skipped ones included, with their reason), sorted by path."""
        with self._mutex:
            return self.store.list_notes()

    def _ranked(self, vector, query_terms: list[str], wanted: int, exclude: int | None = None) -> list[tuple[int, float]]:
        """(note id, cosine) best first: the model's nearest notes fused with the lexical matches
        (`lexical.fuse_ranked`), or the model's alone when `fuse_lexical` is off or nothing matches."""
        vectors = self._vector_index()
        if vectors is None:
            return []
        pool = max(wanted, LEXICAL_POOL)
        nearest = [(i, score) for i, score in vectors.search(vector, pool + 1) if i != exclude]
        match = lexical.match_query(query_terms) if self.fuse_lexical else None
        matches = [i for i, _ in self.store.lexical_matches(match, pool + 1) if i != exclude] if match else []
        if not matches:
            return nearest[:wanted]
        cosine = dict(nearest)
        fused = [i for i, _ in lexical.fuse_ranked([[i for i, _ in nearest], matches])][:wanted]
        missing = [i for i in fused if i not in cosine]
        for note_id, other in zip(missing, self.store.embeddings_of(missing)):
            cosine[note_id] = float(np.dot(vector, other)) if other is not None else 0.0
        return [(i, cosine[i]) for i in fused if i in cosine]

    @_index_errors
    def related(self, path: str | Path, k: int = 10, hide_linked: bool = False, min_score: float | None = None) -> list[RelatedNote]:
        """The `k` notes most related to this one: the model's similarity fused with shared words (see
        `fuse_lexical`); linked notes are marked, or left out with `hide_linked`. `score` is the cosine."""
        with self._mutex:
            row = self.note(path)
            linked = self.store.linked_ids(row["id"])
            wanted = k + (len(linked) if hide_linked else 0) + 16
            body = self.store.lexical_body(row["id"]) or ""
            hits = self._ranked(decode_vector(row["embedding"]), body.split(), wanted, exclude=row["id"])
            if hide_linked:
                hits = [(note_id, score) for note_id, score in hits if note_id not in linked]
            if min_score is not None:
                hits = [(note_id, score) for note_id, score in hits if score >= min_score]
            hits = hits[:k]
            rows = self.store.notes_by_ids([note_id for note_id, _ in hits])
            source_tags = {t.casefold() for t in json.loads(row["tags"] or "[]")}
            source_words = json.loads(row["keywords"] or "[]")
            results = []
            for note_id, score in hits:
                other = rows.get(note_id)
                if other is None:
                    continue
                results.append(
                    RelatedNote(
                        path=other["path"],
                        title=other["title"],
                        folder=other["folder"],
                        score=round(score, 4),
                        linked=note_id in linked,
                        reason=_reason(source_tags, source_words, other),
                    )
                )
            return results

    @_index_errors
    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        """Notes ranked for a free-text question: the model's similarity fused with the question's words."""
        with self._mutex:
            if self._vector_index() is None or not query.strip():
                return []
            vector = self.model.embed_notes([(query.strip(), "")], self.content_tokens)[0]
            hits = self._ranked(vector, lexical.terms(query), k)
            rows = self.store.notes_by_ids([note_id for note_id, _ in hits])
            return [
                SearchHit(rows[i]["path"], rows[i]["title"], rows[i]["folder"], round(score, 4))
                for i, score in hits
                if i in rows
            ]

    # --- hashtags ---------------------------------------------------------------------------
    @_index_errors
    def suggest_tags(
        self, path: str | Path, count: int = DEFAULT_TOPIC_COUNT, refresh: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """Hashtags for a note, cached per note version (an empty answer too): first the vault's own tags
        that its related notes carry (`engine.neighbour_tags`), then, while fewer than `count` and if the
        model was trained to write them, the model's topics (CSFT). The note's tags, dismissed and accepted
        ones never come back. `should_stop` can cut the work short (nothing is stored then)."""
        with self._mutex:
            row = self.note(path)
            stored = self.store.suggestions(row["id"])
            if not refresh and row["suggested_for"] == row["content_hash"]:
                return [s["tag"] for s in stored if s["status"] == "suggested"][:count]
            note = read_note(self.vault, FileStat(row["path"], row["mtime_ns"], row["size"] or 0))
            if isinstance(note, Skipped):
                raise NoteNotFoundError(f"{row['path']} can't be read: {note.reason}")
            refused = [s["tag"] for s in stored if s["status"] in ("dismissed", "accepted")]
            own = note.parsed.tags + refused
            body = self.store.lexical_body(row["id"]) or ""
            neighbours = self._ranked(decode_vector(row["embedding"]), body.split(), FALLBACK_NEIGHBOURS, exclude=row["id"])
            rows = self.store.notes_by_ids([note_id for note_id, _ in neighbours])
            tags = neighbour_tags([json.loads(rows[i]["tags"] or "[]") for i, _ in neighbours if i in rows], own, count)
            if len(tags) < count and self.model.writes_topics:
                generated = self.model.generate_topics(note.parsed.title, note.parsed.text, count, self.content_tokens, should_stop)
                tags += hashtags.parse_topics(generated, self.store.vault_tags(), exclude=own + tags, limit=count - len(tags))
            if should_stop and should_stop():  # the caller moved on: an answer it cut short is not kept
                return []
            self.store.replace_suggestions(row["id"], note.content_hash, [(t, hashtags.tag_key(t)) for t in tags])
            return tags

    @_index_errors
    def apply_tags(self, path: str | Path, tags: list[str]) -> list[str]:
        """Write `tags` into the note's frontmatter (atomically; nothing else changes); returns those added.

        Tags that can't be tags are left out (`tag_rejections` says why); TagRejectedError when that is
        all of them. WriteRefusedError for a note reached through a symlink: nothing is written through links."""
        row = self.note(path)
        rejected = tag_rejections(tags)
        if rejected and len(rejected) == len(tags):
            raise TagRejectedError("no tag applied: " + "; ".join(f"{tag!r}: {why}" for tag, why in rejected))
        target = self._writable(row["path"])
        with self._writing():
            added = hashtags.apply_tags(target, tags, expected_hash=row["content_hash"])
            for tag in added:
                self.store.set_suggestion_status(row["id"], tag, hashtags.tag_key(tag), "accepted")
        self.sync_paths([row["path"]])
        return added

    def _writable(self, relative: str) -> Path:
        """The note's file, if NoteLLM may write it: no symlink on the way, real path inside the vault."""
        target = self.vault / relative
        current = self.vault
        for part in Path(relative).parts:
            current = current / part
            if current.is_symlink():
                real = os.path.realpath(target)
                where = (
                    f"write to its real file {Path(real).relative_to(self.vault).as_posix()} instead"
                    if is_inside(real, self.vault) else "its real file is outside the vault"
                )
                raise WriteRefusedError(
                    f"{relative} is reached through a symbolic link ({current.relative_to(self.vault).as_posix()}); "
                    f"NoteLLM never writes through links: {where}"
                )
        if not is_inside(target, self.vault):
            raise WriteRefusedError(f"{relative} is outside the vault; not writing it")
        return target

    @_index_errors
    def dismiss_tag(self, path: str | Path, tag: str) -> None:
        """Remember that the user does not want this suggestion for this note."""
        with self._mutex:
            row = self.note(path)
            self.store.set_suggestion_status(row["id"], tag, hashtags.tag_key(tag), "dismissed")

    @_index_errors
    def record_navigation(self, source: str, target: str) -> None:
        """Record that the user went from one note to a related one (co-occurrence signal for training)."""
        with self._mutex:
            self.store.record_event("navigate", source, target)

    # --- status -----------------------------------------------------------------------------
    @_index_errors
    def status(self) -> IndexStatus:
        with self._mutex:
            found = scan(self.vault, self.exclude)
            known = self.store.known_files()
            counts = self.store.counts(self.embedder_id)
            changed = sum(
                1 for path, f in found.files.items()
                if path not in known or known[path][1:3] != (f.mtime_ns, f.size)
            )
            deleted = len(set(known) - set(found.files) - {s.path for s in found.skipped})
            size = sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())
            vectors = self._vector_index()
            return IndexStatus(
                vault=str(self.vault),
                index_dir=str(self.index_dir),
                model=str(self.model_path),
                notes_on_disk=len(found.files),
                indexed=counts["indexed"],
                stale=changed + deleted + counts["needs_embedding"],
                skipped=self.store.skipped(),
                warnings=self.store.warnings(),
                index_bytes=size,
                vectors=len(vectors) if vectors else 0,
            )


def _set_index_aside(vault: Path, folder: Path) -> None:
    """Move the index's SQLite and USearch files into `folder/damaged-<time>/`, under the writer lock."""
    lock = FileLock(folder / "writer.lock")
    if not lock.acquire(timeout=5.0):
        raise IndexLockedError(f"another NoteLLM process ({lock.holder()}) is using the index of {vault}; close it and try again")
    try:
        files = [p for p in folder.glob("index.db*")] + [p for p in folder.glob("vectors.*")]
        if not files:
            return
        aside = folder / time.strftime("damaged-%Y%m%d-%H%M%S")
        make_private_dir(aside)
        for path in files:
            os.replace(path, aside / path.name)
    finally:
        lock.release()


def _reason(source_tags: set[str], source_words: list[str], other: dict) -> str:
    shared_tags = [t for t in json.loads(other["tags"] or "[]") if t.casefold() in source_tags]
    if shared_tags:
        return "shared tags: " + ", ".join(f"#{t}" for t in shared_tags[:3])
    other_words = set(json.loads(other["keywords"] or "[]"))
    shared = [w for w in source_words if w in other_words]
    if shared:
        return "key terms: " + ", ".join(shared[:3])
    return "similar content"
