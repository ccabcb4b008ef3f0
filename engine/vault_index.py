"""`VaultIndex`: the engine's public API over one notes folder.

    index = VaultIndex.open("~/vault")
    index.reindex(progress=print)
    index.related("Linear algebra.md", k=10)
    index.suggest_tags("Linear algebra.md")
    index.apply_tags("Linear algebra.md", ["math"])

Every method is safe to call from one worker thread while another thread waits; the GUI calls it
only from background tasks. Writers take a lock file, so two processes never index at once.

Behind it: `indexer.py` brings the index up to date with the files, `store/` holds every SQL
statement, `vectors.py` keeps the USearch file in step with SQLite.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import random
import shutil
import sqlite3
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import cpu_kernels, folder_tags, fusion_weight, hashtags, lexical, vault_map
from .config import index_dir_for, make_private_dir, model_fingerprint, resolve_model, resolve_writer
from .errors import (
    DiskFullError,
    IndexCorruptError,
    IndexLockedError,
    ModelMismatchError,
    NoteLLMError,
    NoteNotFoundError,
    TagRejectedError,
    VaultNotFoundError,
    WriteRefusedError,
)
from .gguf_metadata import FOLDER_LINE_KEY, GGUFFormatError, read_metadata
from .indexer import Indexer, Progress, ReindexSummary, changed_on_disk, relative_path, vanished
from .keywords import is_content_word
from .markdown import strip_links
from .lock import WRITER_WAIT_SECONDS, FileLock
from .neighbour_tags import FALLBACK_NEIGHBOURS, folder_votes
from .prompt import DEFAULT_CONTENT_TOKENS, DEFAULT_TOPIC_COUNT, PROMPT_VERSION
from .storage_errors import (
    NEARLY_FULL_BYTES,
    is_corruption,
    mount_point,
    note_write_error,
    read_only_error,
    storage_error,
)
from .store import NoteRow, Store
from .tag_suggestions import NoteTerms, suggest_hashtags
from .term_index import K1, TermIndex
from .vault import FileStat, LinkResolver, Note, Skipped, is_inside, read_note, scan
from .vectors import VectorIndex
from .vocabulary_tags import VOTE_NEIGHBOURS, is_word_tag

# A related note's reason looks for this many of the note's most telling words in the other note: enough that
# two related notes nearly always share one, few enough that the postings it reads stay a fraction of `related`.
SHARED_TERM_CANDIDATES = 32
# ... chosen among the words of the note's first this many terms (its title first), so that a long note costs
# no more than a short one: the reason's words are found where the note says what it is about.
SHARED_TERM_WINDOW = 1024


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
    score: float  # relevance, as for related notes (`VaultIndex._ranked`)
    reason: str  # the question's words the note holds, or "similar meaning"


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
    kernels: str  # the llama.cpp CPU kernel set this process runs (cpu_kernels.load)
    ranking: str = ""  # what related notes lean on (`fusion_weight.Calibration.describe`)
    writer: str = ""  # the hashtag writer's file (`engine.writer`); empty: none

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ModelDescription:
    path: Path
    dimensions: int  # of the embeddings it makes
    trained: bool  # carries a NoteLLM projection head; else a base model used zero-shot


def describe_model(model: str | Path | None) -> ModelDescription:
    """Load a GGUF (None: the default model) as an index would, and say what it is; ModelError if it can't."""
    from .model import NoteModel

    path = resolve_model(model or None)
    loaded = NoteModel(path, threads=1)
    try:
        return ModelDescription(path, loaded.dimensions, loaded.projection is not None)
    finally:
        loaded.close()


def reads_folders(model_path: Path) -> bool:
    """Whether the model prompts a note with its folder (`engine.prompt.with_folder_line`). A file whose header
    can't be read reads as not: loading it fails with its own error, and no vector is made."""
    try:
        return bool(read_metadata(model_path, {FOLDER_LINE_KEY}).get(FOLDER_LINE_KEY, False))
    except (OSError, GGUFFormatError):
        return False


def same_model(embedder_a: str, embedder_b: str) -> bool:
    """Whether two embedders (`VaultIndex.embedder_id`) make comparable vectors: the same model file and
    prompt; the token budget may differ."""
    return embedder_a.rsplit(":t", 1)[0] == embedder_b.rsplit(":t", 1)[0]


def corrupt_index_error(vault: Path, error: BaseException) -> IndexCorruptError:
    return IndexCorruptError(
        f"the index of {vault} is damaged ({error}); rebuild it with `notellm-engine reindex {vault} --rebuild`"
    )


def index_error(vault: Path, index_dir: Path, error: sqlite3.DatabaseError | OSError) -> NoteLLMError | None:
    """The one-line error an SQLite or OS error of an index means: a damaged index (IndexCorruptError), or a
    full, read-only or failing disk (storage_errors.py); None when it is neither."""
    if isinstance(error, sqlite3.DatabaseError) and is_corruption(error):
        return corrupt_index_error(vault, error)
    return storage_error(error, index_dir)


def _index_errors(method):
    """A damaged SQLite page surfaces in whatever query reads it, and a disk error in whatever writes:
    say so once, in one line (`index_error`)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, OSError) as error:
            if (meaning := index_error(self.vault, self.index_dir, error)) is not None:
                raise meaning from error
            raise

    return wrapper


def tag_rejections(tags: Iterable[str]) -> list[tuple[str, str]]:
    """(tag, why) for each tag that can't be written as an Obsidian tag; the others are fine."""
    return [(tag, why) for tag in tags if (why := hashtags.normalise_tag_with_reason(tag).why) is not None]


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
        # Why this index can't be written now (a read-only disk, mount or file; a full disk), else None:
        # it still answers, and only what writes it refuses (`_writing`), with this error.
        self.cannot_write: NoteLLMError | None = read_only_error(index_dir) if _is_read_only(index_dir) else None
        try:
            self.store = self._open_store()
            remembered = json.loads(self.store.get_meta("settings", "{}"))
        except IndexCorruptError as error:
            raise corrupt_index_error(vault, error.__cause__ or error) from error
        except (sqlite3.DatabaseError, OSError) as error:
            if (meaning := index_error(vault, index_dir, error)) is not None:
                raise meaning from error
            raise
        chosen_model = str(Path(model).expanduser().resolve()) if model is not None else remembered.get("model")
        self.model_path = resolve_model(chosen_model)  # no explicit choice: the default, which may get upgraded
        self.exclude = tuple(remembered.get("exclude", ()) if exclude is None else exclude)
        self.content_tokens = content_tokens or remembered.get("content_tokens") or DEFAULT_CONTENT_TOKENS
        # Remembered only by a reindex that succeeds or by remember_settings(), never by merely opening.
        self.settings = {"model": chosen_model, "exclude": list(self.exclude), "content_tokens": self.content_tokens}
        self._remembered = remembered
        self.threads = threads
        reads_folder = reads_folders(self.model_path)
        # How the vectors were made: the model file, the prompt (with the note's folder or not) and how much of each
        # note it read.
        self.embedder_id = (f"{model_fingerprint(self.model_path)}:p{PROMPT_VERSION}{':folder' if reads_folder else ''}"
                            f":t{self.content_tokens}")
        self.lock = FileLock(index_dir / "writer.lock")
        self._model = None
        # The hashtag writer (`engine.writer`), loaded on the first hashtag it writes; None: $NOTELLM_WRITER names none.
        self.hashtag_writer_path = resolve_writer()
        self._hashtag_writer = None
        self.vectors = VectorIndex(index_dir / VECTORS_NAME, self.store)
        self._indexer = Indexer(vault, self.exclude, self.store, self.vectors, lambda: self.model, self.embedder_id,
                                str(self.model_path), self.content_tokens, reads_folder)
        self._mutex = threading.RLock()
        # Related notes and search fuse the model's ranking with shared words (engine/lexical.py); False
        # ranks by the model's similarity alone.
        self.fuse_lexical = True
        # Related notes fuse in the notes nearest the note's folder where the vault's links chose a folder
        # weight (engine/folder_ranking.py); False leaves the folders out (bench/scale.py times both).
        self.fuse_folders = True
        # Likewise the notes a note names by title where the links chose a mention weight (engine/mentions.py).
        self.fuse_mentions = True
        # Related notes rank by the vectors mapped by the vault's map where its links chose one (engine/vault_map.py);
        # False ranks by the vectors as they are.
        self.use_vault_map = True
        self._mapped: tuple[tuple, vault_map.MappedVectors] | None = None  # the mapped vectors, and what they were made from
        self._read_calibration: tuple[str | None, fusion_weight.Calibration | None] | None = None  # the choice's text, read
        self._calibrating: _Calibrating | None = None  # a calibration that stepped aside, taken up by the next run

    def _open_store(self) -> Store:
        """The index's Store: writable, else opened read-only, with `cannot_write` saying why (a read-only
        place, or a disk too full even to open it for writing), so that reading commands still answer."""
        database = self.index_dir / DB_NAME
        if self.cannot_write is None:
            make_private_dir(self.index_dir)  # an index holds the words of private notes
            try:
                return Store(database)
            except DiskFullError as full:  # reading needs no room
                if not database.exists():
                    raise
                self.cannot_write = full
        store = Store(database, read_only=True)
        if store.pending_migrations():  # written by an older NoteLLM: it must be updated, which writes
            store.close()
            why = self.cannot_write
            raise type(why)(f"the index at {self.index_dir} was written by an older NoteLLM and needs updating first: {why}")
        return store

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
        if index_dir:
            _refuse_index_dir_among_notes(vault_path, folder)
        if rebuild:
            try:
                _set_index_aside(vault_path, folder)
            except OSError as error:
                disk = storage_error(error, folder)
                if disk is None:
                    raise
                raise disk from error
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
            if self._hashtag_writer is not None:
                self._hashtag_writer.close()
                self._hashtag_writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- model and vectors ------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            from .model import NoteModel  # llama.cpp loads only when something needs embedding

            self._model = NoteModel(self.model_path, threads=self.threads, content_tokens=self.content_tokens)
        return self._model

    @property
    def hashtag_writer(self):
        if self._hashtag_writer is None and self.hashtag_writer_path is not None:
            from .writer import HashtagWriter  # llama.cpp loads it only when a note asks for hashtags

            self._hashtag_writer = HashtagWriter(self.hashtag_writer_path, threads=self.threads, content_tokens=self.content_tokens)
        return self._hashtag_writer

    def warm_up(self) -> None:
        """Load the model and the vault's terms now, so the first related notes, search or hashtag
        suggestion does not wait for them (about a second at 10,000 notes); a broken model file raises
        here."""
        self.model
        self.store.term_index()

    def _vector_index(self) -> VectorIndex | None:
        """The vectors, in step with SQLite; None before any note was embedded. Every read of them refuses
        a model other than the index's (`_refuse_another_model`)."""
        self._refuse_another_model()
        return self.vectors if self.vectors.ready() else None

    def _refuse_another_model(self) -> None:
        """The one rule for reads (related notes, search, hashtags, status): they answer with the model the
        index was built with, and refuse another (ModelMismatchError); `reindex` with it switches the index."""
        index_embedder = self.store.embedder()
        if index_embedder is None or same_model(index_embedder, self.embedder_id):
            return
        built_with = self.store.embedder_model()
        raise ModelMismatchError(
            f"the index of {self.vault} was built with {Path(built_with).name if built_with else 'another model'}, "
            f"not {self.model_path.name}; to use {self.model_path.name}, switch the index to it with "
            f"`notellm-engine reindex {self.vault} --model {self.model_path}`"
        )

    @contextmanager
    def _writing(self):
        if self.cannot_write is not None:
            raise self.cannot_write
        with self._mutex:
            if not self.lock.acquire(timeout=WRITER_WAIT_SECONDS):
                raise IndexLockedError(
                    f"another NoteLLM process ({self.lock.holder()}) is updating the index of {self.vault}; "
                    "wait for it to finish or close it"
                )
            try:
                if self.lock.depth == 1:  # only a writer writes temp files: any left now are a killed writer's
                    self.vectors.remove_stale_temp_files()
                yield
            finally:
                self.lock.release()

    # --- indexing (engine/indexer.py) ----------------------------------------------------------
    @_index_errors
    def reindex(self, progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                batch_seconds: Callable[[], float] | None = None, carry_on: bool = False,
                calibration_progress: Progress | None = None) -> ReindexSummary:
        """Bring the index up to date with the folder: embed new and changed notes (the most recently
        modified first), drop deleted ones. `should_stop` is asked between batches, and `batch_seconds`
        before each one: about how long it may take (shorter batches answer a waiting reader sooner).
        `carry_on=True` takes up the last run that stepped aside where it stopped, without scanning the
        folder again: for a caller that syncs the watcher's changes meanwhile (the app).

        Then, when the vault's links changed by a tenth or the model changed, the model's weight in related
        notes is chosen again from the vault's links (`engine.fusion_weight`; `calibration_progress` gets
        (linking notes done, to do)). The summary's `ranking` then says what was chosen; a run that steps
        aside during it is `cancelled`, and the next one goes on with it."""
        with self._writing():
            if carry_on and self._calibrating is not None:  # the notes were done; the watcher synced what changed since
                summary = ReindexSummary()
            else:
                summary = self._indexer.reindex(progress, should_stop, batch_seconds, carry_on)
                self._remember_settings()
            if not summary.cancelled:
                before = self.store.get_meta(fusion_weight.META_KEY)
                summary.cancelled = not self._calibrate_fusion(should_stop, calibration_progress)
                if self.store.get_meta(fusion_weight.META_KEY) != before:
                    summary.ranking = self._ranking_description()
            return summary

    @_index_errors
    def sync_paths(self, paths: Iterable[str | Path], progress: Progress | None = None, links: bool = True) -> ReindexSummary:
        """Update just these files or folders (what the watcher saw change). With `links=False` the
        notes are queryable sooner and the links table catches up at `update_links()` or the next reindex."""
        with self._writing():
            return self._indexer.sync_paths(paths, progress, links)

    @_index_errors
    def update_links(self) -> bool:
        """Bring the links table up to date after `sync_paths(..., links=False)`; True if anything was redone."""
        with self._writing():
            return self._indexer.update_links()

    # --- queries ----------------------------------------------------------------------------
    def relative_path(self, path: str | Path) -> str | None:
        """A vault-relative '/' path for an absolute or relative path; None if outside the vault."""
        return relative_path(self.vault, path)

    def _note_named(self, name: str) -> NoteRow | None:
        """The indexable note a name means, by the vault's one rule for names (`vault.LinkResolver.find`)."""
        rows = [row for row in self.store.notes() if not row.skip_reason]
        aliases = {source.path: source.aliases for source in self.store.link_sources()}
        found = LinkResolver([row.path for row in rows], aliases, {row.path: row.title for row in rows}).find(name)
        return self.store.note(found) if found else None

    @_index_errors
    def note(self, path: str | Path) -> NoteRow:
        """The index row of an embedded note, found by vault path, else by name (path without suffix, file name,
        alias or title)."""
        relative = self.relative_path(path)
        row = None
        if relative is not None:
            row = self.store.note(relative) or self._note_named(relative)
        if row is None and relative:
            parents = list(Path(relative).parents)[:-1]  # a note inside a skipped folder (e.g. a link leading outside)
            for parent in parents:
                skipped = self.store.note(parent.as_posix())
                if skipped and skipped.skip_reason:
                    raise NoteNotFoundError(f"{relative} is not indexed: {skipped.path} {skipped.skip_reason}")
        if row is None:
            raise NoteNotFoundError(f"no note {str(path)!r} in the index of {self.vault}; check the name or run reindex")
        if row.skip_reason:
            raise NoteNotFoundError(f"{row.path} is not indexed: {row.skip_reason}")
        if not row.indexed:
            raise NoteNotFoundError(f"{row.path} is not embedded yet; run reindex")
        return row

    @_index_errors
    def notes(self) -> list[NoteRow]:
        """All notes in the index (skipped ones included, with their reason), sorted by path."""
        with self._mutex:
            return self.store.notes()

    def _query_terms(self, row: NoteRow) -> list[str]:
        """A note's own terms, to find the notes it shares words with."""
        return (self.store.lexical_body(row.id) or "").split()

    def _lexical_ranking(self, query_terms: list[str], limit: int, question: bool = False) -> list[int]:
        """The notes sharing these terms, best BM25 first. A note's terms are its query less the vault's
        common ones (`lexical.query_terms`: they would crowd out its rare words and slow the query). A
        question keeps every term: it has a few words, often the vault's commonest subject ("publish" in
        a vault that documents publishing), and BM25 already weighs each by its rarity."""
        terms = self.store.term_index()
        ranked = terms.matches(query_terms, limit) if question else terms.related(query_terms, limit)
        return [note_id for note_id, _ in ranked]

    def _ranked(self, vector, query_terms: list[str], wanted: int, exclude: int | None = None,
                question: bool = False, weighting: fusion_weight.Weighting | None = None,
                folder: str | None = None, named: list[int] | None = None) -> list[tuple[int, float]]:
        """(note id, relevance) best first: the model's nearest notes fused with the lexical matches by
        reciprocal rank (`lexical.fuse_ranked`; the model's ranking alone when `fuse_lexical` is off) at
        `weighting` (default: the vault's), with `folder` (the note's) those nearest it first at its
        folder weight, and `named`, the notes it names, at its mention weight (`engine.fusion_weight`).

        Relevance is the one score the engine shows: the fused score over the best one possible, the
        score of a note ranked first by every ranking fused, so 1.0 is "first for the model and for the
        shared words" and it never increases down the list. (The cosine did not follow the fused order.)"""
        vectors = self._vector_index()
        if vectors is None:
            return []
        if len(vector) != vectors.dimensions:  # left by a model switch that a version before switch vectors did not finish
            raise NoteNotFoundError(f"the index of {self.vault} holds vectors of two models; "
                                    f"run `notellm-engine reindex {self.vault}` to bring it back to one")
        pool = max(wanted, fusion_weight.POOL)
        model = [i for i, _ in self._model_search(vectors, vector, pool + 1, question) if i != exclude]
        if not self.fuse_lexical:
            best = 1.0 / (lexical.RRF_K + 1)
            return [(i, round(fused / best, 4)) for i, fused in lexical.fuse_ranked([model])[:wanted]]
        words = [i for i in self._lexical_ranking(query_terms, pool + 1, question) if i != exclude]
        # A question is no note: the weighting chosen from the vault's links between notes is not its.
        weighting = fusion_weight.DEFAULT if question else weighting or self._weighting()
        folders = self.store.folders_of([*model, *words]) if folder is not None and weighting.folder else None
        ranked = fusion_weight.fused(model, words, weighting, folders, folder, named)
        return [(i, round(relevance, 4)) for i, relevance in ranked[:wanted]]

    def _model_search(self, vectors: VectorIndex, vector, count: int, question: bool = False) -> list[tuple[int, float]]:
        """The notes nearest this vector: by the vectors mapped by the vault's map where it has one, except for a
        question, which is no note (`engine.vault_map`)."""
        mapped = None if question else self._mapped_vectors(vectors)
        return (mapped if mapped is not None else vectors).search(vector, count)

    def _mapped_vectors(self, vectors: VectorIndex) -> vault_map.MappedVectors | None:
        """Every vector mapped by the vault's map, if its links chose one for the model the vectors are of; made
        again when the vectors or the map change. None also for a map that can't be read: the next reindex fits it
        again (`_calibrate_fusion`)."""
        if not self._uses_map(self._calibration()):
            return None
        text = self.store.get_meta(vault_map.META_KEY)
        key = (text, id(vectors), vectors.version)
        if self._mapped is not None and self._mapped[0] == key:
            return self._mapped[1]
        matrix = self._readable_map(text)
        if matrix is None or matrix.shape[0] != vectors.dimensions:
            return None
        ids, stored = self.store.ids_and_embeddings(vectors.dimensions)
        self._mapped = (key, vault_map.MappedVectors(ids, stored, matrix))
        return self._mapped[1]

    def _uses_map(self, kept: fusion_weight.Calibration | None) -> bool:
        """Whether related notes rank by the vault's map: the links chose one for the model the vectors are of."""
        return self.use_vault_map and kept is not None and kept.mapped and kept.embedder == self.store.embedder()

    @staticmethod
    def _readable_map(text: str | None):
        try:
            return vault_map.decode(text) if text else None
        except ValueError:
            return None

    # --- the model's weight in related notes (engine/fusion_weight.py) --------------------------
    def _calibration(self) -> fusion_weight.Calibration | None:
        """The vault's kept choice, read again only when its text changed: `related` asks for it more than once, and
        reading it costs about 0.1 ms."""
        kept = self.store.get_meta(fusion_weight.META_KEY)
        if self._read_calibration is None or self._read_calibration[0] != kept:
            try:
                read = fusion_weight.Calibration.from_dict(json.loads(kept)) if kept else None
            except (ValueError, KeyError, TypeError, AttributeError):  # written by something else: chosen again at the next reindex
                read = None
            self._read_calibration = (kept, read)
        return self._read_calibration[1]

    def _weighting(self) -> fusion_weight.Weighting:
        """The vault's weights of the model, its folders and the notes a note names against shared words, if chosen
        for the model the vectors are of; else `fusion_weight.UNCHOSEN`."""
        kept = self._calibration()
        if kept is None or kept.embedder != self.store.embedder():
            return fusion_weight.UNCHOSEN
        return kept.weighting

    def _calibrate_fusion(self, should_stop: Callable[[], bool] | None = None, progress: Progress | None = None) -> bool:
        """Choose the vault's weighting from its own links (`engine.fusion_weight`), unless the one kept
        still holds. False when it stepped aside (`should_stop`): the next run goes on where it stopped."""
        vectors = self._vector_index()
        if vectors is None:
            return True
        targets = self.store.link_targets()
        embedder, link_count = self.store.embedder(), sum(len(linked) for linked in targets.values())
        kept = self._calibration()
        if (kept is not None and kept.current(embedder, link_count)
                and (not kept.mapped or self._readable_map(self.store.get_meta(vault_map.META_KEY)) is not None)):
            self._calibrating = None
            return True
        work = self._calibrating
        if work is None or work.embedder != embedder or work.link_count != link_count:
            sources = sorted(targets)
            if len(sources) > fusion_weight.MAX_SOURCES:
                sources = sorted(random.Random(0).sample(sources, fusion_weight.MAX_SOURCES))
            work = self._calibrating = _Calibrating(embedder, link_count, targets, sources if len(sources) >= fusion_weight.MIN_SOURCES else [])
        rows = self.store.notes_by_ids(work.sources[work.done:])
        while work.done < len(work.sources):
            if should_stop is not None and should_stop():
                return False
            batch = work.sources[work.done:work.done + fusion_weight.BATCH]
            work.done += len(batch)
            notes = {}
            for note_id in batch:
                row = rows.get(note_id)
                note = read_note(self.vault, FileStat(row.path, row.mtime_ns, row.size or 0)) if row else None
                if isinstance(note, Note):  # else gone or unreadable meanwhile: the sample is a sample
                    notes[note_id] = (note.parsed.title, strip_links(note.parsed.text), row.folder)
            if not notes:
                continue
            embedded = self.model.embed_notes(list(notes.values()), self.content_tokens)
            for (note_id, (title, text, _)), vector in zip(notes.items(), embedded):
                model = [i for i, _ in vectors.search(vector, fusion_weight.POOL + 1) if i != note_id]
                note_terms = lexical.document(title, text).split()
                words = [i for i in self._lexical_ranking(note_terms, fusion_weight.POOL + 1) if i != note_id]
                folders = self.store.folders_of([*model, *words])
                named = self.store.title_index().named_in(note_terms, exclude=note_id)
                found = fusion_weight.found_per_weighting(model, words, work.targets[note_id], folders, rows[note_id].folder, named)
                for weighting, count in found.items():
                    work.found[weighting] += count
                work.sources_used += 1
                work.links += len(work.targets[note_id])
                work.examples.append(_LinkingNote(note_id, np.asarray(vector, dtype=np.float32), words, named, rows[note_id].folder))
            if progress is not None:
                progress(work.done, len(work.sources))
        chosen, matrix, map_found = fusion_weight.UNCHOSEN, None, {}
        if work.sources_used >= fusion_weight.MIN_SOURCES:
            chosen = fusion_weight.choose_weighting(work.found)
            if self.use_vault_map:
                fitted = self._fit_vault_map(work, vectors.dimensions, should_stop)
                if fitted is None:
                    return False
                matrix, map_found = fitted
                if matrix is not None:
                    chosen = fusion_weight.choose_weighting(map_found)
        calibration = fusion_weight.Calibration(chosen, work.sources_used if work.sources else len(targets), work.links, work.found,
                                                embedder or "", link_count, matrix is not None, map_found)
        with self.store.transaction():
            self.store.set_meta(fusion_weight.META_KEY, json.dumps(calibration.as_dict()))
            if matrix is not None:
                self.store.set_meta(vault_map.META_KEY, vault_map.encode(matrix))
            else:
                self.store.delete_meta(vault_map.META_KEY)
        self._calibrating = None
        return True

    def _fit_vault_map(self, work: "_Calibrating", dimensions: int, should_stop: Callable[[], bool] | None):
        """(map or None, links found per weighting with it, held out): the vault's map (`engine.vault_map`) where
        the linking notes sampled gain by it (`vault_map.keeps`). None when it stepped aside (`should_stop`, asked
        between two folds' fits); the next run goes on with the folds already ranked."""
        ids, stored = self.store.ids_and_embeddings(dimensions)
        if work.map_ids is None or not np.array_equal(work.map_ids, ids):  # the vectors changed meanwhile: rank again
            work.map_ids, work.map_rankings = ids, {}
        row_of = {int(note_id): row for row, note_id in enumerate(ids)}
        linking = [note for note in work.examples if note.note_id in row_of]
        examples = [vault_map.Example(row_of[note.note_id], note.vector,
                                      frozenset(row_of[target] for target in work.targets[note.note_id] if target in row_of))
                    for note in linking]
        rankings = vault_map.held_out_rankings(stored, examples, fusion_weight.POOL, done=work.map_rankings, should_stop=should_stop)
        if rankings is None:
            return None
        map_found = dict.fromkeys(fusion_weight.WEIGHTINGS, 0)
        for position, note in enumerate(linking):
            model = [int(ids[row]) for row in rankings[position]]
            folders = self.store.folders_of([*model, *note.words])
            found = fusion_weight.found_per_weighting(model, note.words, work.targets[note.note_id], folders, note.folder, note.named)
            for weighting, count in found.items():
                map_found[weighting] += count
        if not vault_map.keeps(work.found, map_found, work.links):
            return None, map_found
        return vault_map.fit(stored, examples), map_found

    @_index_errors
    def related(self, path: str | Path, k: int = 10, hide_linked: bool = False, min_score: float | None = None) -> list[RelatedNote]:
        """The `k` notes most related to this one: the model's similarity fused with shared words (see
        `fuse_lexical`), with nearness in the folder tree (`engine.folder_ranking`) and with the notes whose
        titles this one's text holds (`engine.mentions`), each at the vault's weight (`_weighting`); linked
        notes are marked, or left out with `hide_linked`. `score` is the relevance (`_ranked`), and
        `min_score` leaves out notes below it."""
        with self._mutex:
            row = self.note(path)
            linked = self.store.linked_ids(row.id)
            wanted = k + (len(linked) if hide_linked else 0) + 16
            note_terms = self._query_terms(row)
            hits, named, filed = self._panel_ranking(row, self.store.embedding_of(row.id), note_terms, wanted, linked)
            if hide_linked:
                hits = [(note_id, score) for note_id, score in hits if note_id not in linked]
            if min_score is not None:
                hits = [(note_id, score) for note_id, score in hits if score >= min_score]
            hits = hits[:k]
            rows = self.store.notes_by_ids([note_id for note_id, _ in hits])
            shared = _shared_terms(note_terms, list(rows), self.store.term_index())
            source_tags = {t.casefold() for t in row.tags}
            named_set = set(named)
            results = []
            for note_id, score in hits:
                other = rows.get(note_id)
                if other is None:
                    continue
                results.append(
                    RelatedNote(
                        path=other.path,
                        title=other.title,
                        folder=other.folder,
                        score=score,
                        linked=note_id in linked,
                        reason=_reason(source_tags, other.tags, shared.get(note_id, []),
                                       same_folder=filed and other.folder == row.folder, named=note_id in named_set),
                    )
                )
            return results

    def _panel_ranking(self, row, embedding, note_terms: list[str], wanted: int,
                       linked: set[int]) -> tuple[list[tuple[int, float]], list[int], bool]:
        """(hits, named, filed): the note's related notes as the panel ranks them (`_ranked` at the vault's weighting,
        with its folder when the folders take part, `filed`, and `named`, the notes it names but does not link)."""
        weighting = self._weighting()
        filed = bool(weighting.folder) and self.fuse_folders
        # The notes it names but does not link: its row holds its links' words, which name every linked
        # note, and the weight was chosen with the links cut (`_calibrate_fusion`).
        named = ([i for i in self.store.title_index().named_in(note_terms, exclude=row.id) if i not in linked]
                 if weighting.mention and self.fuse_mentions and self.fuse_lexical else [])
        hits = self._ranked(embedding, note_terms, wanted, exclude=row.id,
                            weighting=weighting, folder=row.folder if filed else None, named=named)
        return hits, named, filed

    @_index_errors
    def search(self, query: str, k: int = 10) -> list[SearchHit]:
        """Notes ranked for a free-text question: the model's similarity fused with the question's words."""
        with self._mutex:
            if self._vector_index() is None or not query.strip():
                return []
            vector = self.model.embed_notes([(query.strip(), "")], self.content_tokens)[0]
            hits = self._ranked(vector, lexical.terms(query), k, question=True)
            rows = self.store.notes_by_ids([note_id for note_id, _ in hits])
            words = _content_words(query)
            bodies = self.store.lexical_bodies(list(rows))
            return [
                SearchHit(rows[i].path, rows[i].title, rows[i].folder, score,
                          _search_reason(words, bodies.get(i, "")))
                for i, score in hits
                if i in rows
            ]

    # --- hashtags ---------------------------------------------------------------------------
    @_index_errors
    def suggest_tags(
        self, path: str | Path, count: int = DEFAULT_TOPIC_COUNT, refresh: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """Hashtags for a note, cached per note version (an empty answer too): the vault's own tags that its
        related notes carry (weighed also by the notes it links with and its folder's, `engine.neighbour_tags`),
        or else the tags the model writes (if it was trained to), the tag the model's tag head names
        (`engine.tag_head`), the note's folder's name (`engine.folder_tags`) and its own salient words that a few
        other notes share, in the hashtag writer's order when it is on (`engine.writer`;
        `engine.tag_suggestions`). The note's tags, dismissed and accepted ones never come back.
        `should_stop` can cut the work short (nothing is stored then)."""
        with self._mutex:
            row = self.note(path)
            self._refuse_another_model()  # stored suggestions too: they came from the index's model
            stored = self.store.suggestions(row.id)
            if not refresh and row.suggested_for == row.content_hash:
                return [s["tag"] for s in stored if s["status"] == "suggested"][:count]
            note = read_note(self.vault, FileStat(row.path, row.mtime_ns, row.size or 0))
            if isinstance(note, Skipped):
                raise NoteNotFoundError(f"{row.path} can't be read: {note.reason}")
            refused = [s["tag"] for s in stored if s["status"] in ("dismissed", "accepted")]
            own = note.parsed.tags + refused
            note_terms = self._query_terms(row)
            embedding = self.store.embedding_of(row.id)
            linked_ids = self.store.linked_ids(row.id)
            # The related notes the panel shows vote: with the folders and the named notes, their tags are the note's
            # more often than the pair's (docs/experiments.md, 2026-12-04).
            neighbours = self._panel_ranking(row, embedding, note_terms, FALLBACK_NEIGHBOURS, linked_ids)[0]
            rows = self.store.notes_by_ids([note_id for note_id, _ in neighbours])
            voters = [note_id for note_id, _ in neighbours[:VOTE_NEIGHBOURS]]
            bodies = self.store.lexical_bodies(voters)
            linked = self.store.notes_by_ids(sorted(linked_ids - {row.id}))
            terms = NoteTerms(row.id, note_terms, set(lexical.terms(note.parsed.title)),
                              [set(bodies.get(i, "").split()) for i in voters], own,
                              [other.tags for other in linked.values() if other.skip_reason is None],
                              self.store.folder_tag_lists(row.folder, row.id) if folder_votes(row.folder) else [],
                              self._folder_tag(row.folder))
            head = self.model.tag_head

            def model_tags() -> list[str]:  # asked only when the related notes' tags give none
                if head is None or embedding is None:
                    return []
                return head.rank(embedding, self.store.embeddings(len(embedding)), count, exclude=own)

            def written_tags() -> list[str]:  # likewise: the model's own, when it writes
                if not self.model.writes_topics:
                    return []
                generated = self.model.generate_topics(note.parsed.title, note.parsed.text, count, self.content_tokens, should_stop,
                                                       row.folder)
                return hashtags.parse_topics(generated, self.store.vault_tags(), exclude=own, limit=count)

            writer = self.hashtag_writer
            rank_words = None if writer is None else (
                lambda words: writer.rank_tags(note.parsed.title, note.parsed.text, words, count, should_stop, row.folder))
            tags = suggest_hashtags([rows[i].tags for i, _ in neighbours if i in rows], terms, self.store.term_index(),
                                    self.store.tagged_share(), count, model_tags, written_tags, rank_words)
            if should_stop and should_stop():  # the caller moved on: an answer it cut short is not kept
                return []
            if self.cannot_write is None:  # a read-only index (or full disk) answers without keeping the answer
                self.store.replace_suggestions(row.id, note.content_hash, [(t, hashtags.tag_key(t)) for t in tags])
            return tags

    def _folder_tag(self, folder: str) -> str | None:
        per_folder = self.store.notes_per_folder()
        return folder_tags.folder_tag(folder, folder_tags.notes_by_folder_name(per_folder), sum(per_folder.values()))

    @_index_errors
    def apply_tags(self, path: str | Path, tags: list[str]) -> list[str]:
        """Write `tags` into the note's frontmatter (atomically; nothing else changes); returns those added.

        Tags that can't be tags are left out (`tag_rejections` says why); TagRejectedError when that is
        all of them. WriteRefusedError for a note reached through a symlink: nothing is written through links."""
        row = self.note(path)
        rejected = tag_rejections(tags)
        if rejected and len(rejected) == len(tags):
            raise TagRejectedError("no tag applied: " + "; ".join(f"{tag!r}: {why}" for tag, why in rejected))
        target = self._writable(row.path)
        with self._writing():
            try:
                added = hashtags.apply_tags(target, tags, expected_hash=row.content_hash)
            except OSError as error:
                refused = note_write_error(error, target)  # the note's disk, which need not be the index's
                if refused is None:
                    raise
                raise refused from error
            for tag in added:
                self.store.set_suggestion_status(row.id, tag, hashtags.tag_key(tag), "accepted")
        self.sync_paths([row.path])
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
            self.store.set_suggestion_status(row.id, tag, hashtags.tag_key(tag), "dismissed")

    @_index_errors
    def record_navigation(self, source: str, target: str) -> None:
        """Record that the user went from one note to a related one (co-occurrence signal for training);
        an index that can't be written (`cannot_write`) lets this signal go rather than fail the click."""
        if self.cannot_write is not None:
            return
        with self._mutex:
            self.store.record_event("navigate", source, target)

    # --- status -----------------------------------------------------------------------------
    @_index_errors
    def status(self) -> IndexStatus:
        with self._mutex:
            found = scan(self.vault, self.exclude)
            known = self.store.known_files()
            counts = self.store.counts(self.embedder_id)
            changed = len(changed_on_disk(found, known))
            deleted = len(vanished(found, known))
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
                kernels=cpu_kernels.load(),
                ranking=self._ranking_description(),
                writer=str(self.hashtag_writer_path or ""),
            )

    def _ranking_description(self) -> str:
        kept = self._calibration()
        if not self.fuse_lexical:
            return "model alone" + (", its vectors fitted to the vault's links" if self._uses_map(kept) else "")
        if kept is None or kept.embedder != self.store.embedder():
            return f"{fusion_weight.leaning(fusion_weight.UNCHOSEN)} (chosen from the vault's links at the next reindex)"
        return kept.describe()


@dataclass
class _Calibrating:
    """A choice of the vault's weighting under way (`VaultIndex._calibrate_fusion`): the vault's links when it
    began, the linking notes sampled, how many are done and, per weighting, the links found so far."""

    embedder: str | None
    link_count: int
    targets: dict[int, set[int]]
    sources: list[int]
    done: int = 0
    sources_used: int = 0
    links: int = 0
    found: dict[fusion_weight.Weighting, int] = field(default_factory=lambda: dict.fromkeys(fusion_weight.WEIGHTINGS, 0))
    examples: list["_LinkingNote"] = field(default_factory=list)  # what the vault's map is fitted to
    map_ids: np.ndarray | None = None  # the note ids of the vectors `map_rankings` ranked
    map_rankings: dict[int, list[int]] = field(default_factory=dict)  # the map's held-out rankings made so far


@dataclass
class _LinkingNote:
    """A linking note as the weighting's choice saw it: its vector with its links cut, the notes sharing its words,
    the notes it names, and its folder."""

    note_id: int
    vector: np.ndarray
    words: list[int]
    named: list[int]
    folder: str


DB_NAME, VECTORS_NAME = "index.db", "vectors.usearch"


def _index_files(folder: Path) -> list[Path]:
    """The files an index writes in its folder, by exact name: all that `--rebuild` may move."""
    return Store.files_of(folder / DB_NAME) + VectorIndex.files_of(folder / VECTORS_NAME)


def _is_read_only(folder: Path) -> bool:
    """Whether the index's folder or its SQLite file can't be written: a read-only disk, mount or mode."""
    database = folder / DB_NAME
    return (folder.is_dir() and not os.access(folder, os.W_OK)) or (database.exists() and not os.access(database, os.W_OK))


def _refuse_index_dir_among_notes(vault: Path, folder: Path) -> None:
    """An index kept among the notes would be scanned as notes, and `--rebuild` would move files there:
    inside the vault, only a hidden folder (one the scan leaves out) may hold it."""
    real = folder.resolve()
    if not is_inside(real, vault):
        return
    parts = real.relative_to(vault).parts
    if not any(part.startswith(".") for part in parts):
        raise WriteRefusedError(
            f"--index-dir {folder} is {'the vault itself' if not parts else 'inside the vault'}: NoteLLM keeps its "
            f"index out of your notes; use a hidden folder such as {vault / '.notellm'}, or one outside the vault"
        )


def _set_index_aside(vault: Path, folder: Path) -> None:
    """Move the index's own files (by exact name) into `folder/damaged-<time>/`, under the writer lock;
    refused while the disk lacks the room to build the new index beside the kept one."""
    if not folder.is_dir():
        return
    lock = FileLock(folder / "writer.lock")
    if not lock.acquire(timeout=WRITER_WAIT_SECONDS):
        raise IndexLockedError(f"another NoteLLM process ({lock.holder()}) is using the index of {vault}; close it and try again")
    try:
        files = [path for path in _index_files(folder) if path.is_file()]
        if not files:
            return
        needed = max(sum(path.stat().st_size for path in files), NEARLY_FULL_BYTES)
        if shutil.disk_usage(folder).free < needed:
            raise DiskFullError(
                f"disk full: rebuilding keeps the old index and needs about {needed / 1e6:.1f} MB more; free space on "
                f"{mount_point(folder)} and run the command again"
            )
        aside = folder / time.strftime("damaged-%Y%m%d-%H%M%S")
        make_private_dir(aside)
        for path in files:
            os.replace(path, aside / path.name)
    finally:
        lock.release()


def _content_words(query: str) -> list[str]:
    """A question's terms that can say why a note matched: no stopwords, no one- or two-letter words."""
    return [t for t in dict.fromkeys(lexical.terms(query)) if is_content_word(t)]


def _search_reason(query_words: list[str], note_terms: str) -> str:
    held = set(note_terms.split())
    shared = [w for w in query_words if w in held]
    return "words: " + ", ".join(shared[:4]) if shared else "similar meaning"


def _shared_terms(note_terms: list[str], others: list[int], terms: TermIndex) -> dict[int, list[str]]:
    """{other note: the words it shares with a note, those that tie the two most first}, of the note's
    `SHARED_TERM_CANDIDATES` most telling words that read as a topic (`is_word_tag`) among its first
    `SHARED_TERM_WINDOW` terms. Each is weighed as BM25 weighs a word, on both sides: by its rarity in the vault
    and by how often each note uses it, saturated, so that a word both dwell on leads, not one the whole vault
    uses ("foam" in Foam's documentation) nor one each happens to use once. The other notes' side comes from
    the term index's postings (`TermIndex.shared`): no note's row is read again."""
    telling = {}
    for term, count in Counter(note_terms[:SHARED_TERM_WINDOW]).items():
        if (held := terms.counts.get(term, 0)) > 1:  # some other note holds it
            telling[term] = math.log(1 + terms.rows / held) * _saturated(count)
    best_first = sorted(telling, key=telling.__getitem__, reverse=True)
    chosen = list(itertools.islice((term for term in best_first if is_word_tag(term)), SHARED_TERM_CANDIDATES))
    return {note: sorted(words, key=lambda term: (-telling[term] * words[term], term))
            for note, words in terms.shared(chosen, others).items()}


def _saturated(uses: int) -> float:
    return uses * (K1 + 1) / (uses + K1)


def _reason(source_tags: set[str], other_tags: list[str], shared_words: list[str],
            same_folder: bool = False, named: bool = False) -> str:
    """Why a related note is there, in a few words: the note names it by its title; the tags, else the words
    the two share (`_shared_terms`); else, where the vault's folders take part in the ranking, their common folder."""
    if named:
        return "named in this note"
    shared_tags = [t for t in other_tags if t.casefold() in source_tags]
    if shared_tags:
        return "shared tags: " + ", ".join(f"#{t}" for t in shared_tags[:3])
    if shared_words:
        return "key terms: " + ", ".join(shared_words[:3])
    return "same folder" if same_folder else "similar content"
