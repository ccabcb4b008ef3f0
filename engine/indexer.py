"""Bring one vault's index up to date with its files: the one way a note gets into the index.

`reindex` walks the whole vault, `sync_paths` looks only at what the watcher saw change; both decide
first (a `Plan`: which files to read, which notes were renamed, which need a new vector) and write
afterwards, so a model that can't be loaded leaves the index as it was. Notes are embedded most recently
modified first, in batches committed about every `BATCH_SECONDS`, so a kill loses little and
today's notes are related within the first minute of a long first index. A run that steps aside keeps
the rest of its plan, and `reindex(carry_on=True)` takes it up without scanning again. Callers hold the
writer lock (`VaultIndex` does).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from . import lexical
from .markdown import Link
from .store import KnownFile, NoteContent, Store
from .vault import (
    OUTSIDE_VAULT,
    RETRY_REASONS,
    VANISHED,
    FileStat,
    LinkResolver,
    Note,
    ScanResult,
    Skipped,
    content_hash,
    folder_of,
    is_excluded,
    is_inside,
    is_note_name,
    read_note,
    readable,
    scan,
    stat_note,
)
from .vectors import VectorIndex

if TYPE_CHECKING:
    from .model import NoteModel

EMBED_BATCH = 8  # at most this many prompts per llama.cpp decode
# And no more than about this much work between two commits: a kill loses at most that. Fuller decodes are
# faster: the shipped model embeds 7.0, 9.5, 12.7 and 14.9 notes/s at 1, 2, 4 and 8 prompts per decode
# (64 sample-vault notes, 2 cores, 2026-12-02), so a run that nobody waits on fills them.
BATCH_SECONDS = 0.6
# A run that a reader may be waiting behind (the app's: a request waits for the batch under way) keeps
# its batches short instead.
READER_BATCH_SECONDS = 0.25
SAVE_EVERY_SECONDS = 20.0
LIST_CHUNK = 256  # at most this many notes read and listed per transaction; a long first run can step aside between chunks
FIRST_LIST_CHUNK = 16  # the first chunk (it measures the time per note) and the smallest
Progress = Callable[[int, int], None]  # (notes embedded so far, notes to embed)
Queued = tuple[Note, NoteContent] | FileStat  # a note read in this run, or one listed earlier and read when its batch comes


@dataclass
class Plan:
    """What a run will do, decided before it writes anything."""
    to_read: list[FileStat]  # read, then listed, updated in place or renamed (new, changed, not embedded by this embedder...)
    waiting: list[FileStat]  # listed by an earlier run and current: read only when their embedding batch comes
    removed: dict[str, int] = field(default_factory=dict)  # path -> id of notes whose file is gone
    pre_skipped: list[Skipped] = field(default_factory=list)  # found unusable without reading (a link outside...)
    known: dict[str, KnownFile] = field(default_factory=dict)  # the index's files when it was made
    moved_from: dict[str, tuple[int, str]] = field(default_factory=dict)  # text hash -> (id, folder) of removed notes
    unchanged: int = 0


def file_stat(item: Queued) -> FileStat:
    """A queued note as the stat it was listed with."""
    if isinstance(item, FileStat):
        return item
    note = item[0]
    return FileStat(note.path, note.mtime_ns, note.size)


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
    removed_paths: list[str] = field(default_factory=list)  # notes found gone (the app drops what showed them)
    ranking: str = ""  # what related notes lean on, when this run chose it again (`VaultIndex.reindex`)

    def as_dict(self) -> dict:
        return asdict(self)


def text_hash(title: str, text: str) -> str:
    """Of what the model reads: two versions with equal hashes share one vector."""
    return content_hash(f"{title}\0{text}".encode("utf-8"))


def relative_path(vault: Path, path: str | Path) -> str | None:
    """A vault-relative '/' path for an absolute or relative path; None if outside the vault."""
    path = Path(path)
    if path.is_absolute():
        if path.is_relative_to(vault):
            path = path.relative_to(vault)
        elif path.resolve().is_relative_to(vault):
            path = path.resolve().relative_to(vault)
        else:
            return None
    relative = path.as_posix()
    return "" if relative == "." else relative


def vanished(found: ScanResult, known: dict[str, KnownFile]) -> set[str]:
    """Indexed paths that the scan found neither as notes nor as skipped files."""
    return set(known) - set(found.files) - {s.path for s in found.skipped}


def changed_on_disk(found: ScanResult, known: dict[str, KnownFile]) -> list[str]:
    """Notes on disk that are new or whose modification time or size differs from the index's."""
    return [path for path, file in found.files.items() if path not in known or known[path].differs_from(file.mtime_ns, file.size)]


def sized_to(budget: float, seconds: float, done: int, smallest: int, largest: int) -> int:
    """How many items fit in about `budget` seconds at the pace of the last `done` items in `seconds`,
    between `smallest` and `largest` (the size of the next listing chunk or embedding batch)."""
    per_item = max(seconds, 1e-3) / max(1, done)
    return max(smallest, min(largest, int(budget / per_item)))


def newest_first(item: Queued) -> tuple[int, str]:
    file = item[0] if isinstance(item, tuple) else item
    return -file.mtime_ns, file.path


def note_content(note: Note) -> NoteContent:
    parsed = note.parsed
    return NoteContent(
        title=parsed.title,
        folder=folder_of(note.path),
        mtime_ns=note.mtime_ns,
        size=note.size,
        content_hash=note.content_hash,
        text_hash=text_hash(parsed.title, parsed.text),
        tags=parsed.tags,
        aliases=parsed.aliases,
        category=parsed.category,
        links=[(link.target, link.kind) for link in parsed.links],
        warning=parsed.frontmatter_error,
    )


class Indexer:
    """Reads a vault's notes into its Store and VectorIndex; `load_model` gives the NoteModel (loaded
    only when something needs embedding) and `embedder_id` names the vectors it makes (`model_name`, the
    file it loads, is recorded with them).

    An index holds the vectors of one embedder (`Store.embedder`). A run with another one switches the
    index to it: the new vectors are committed beside the old ones as usual, batch by batch (a kill
    loses little, and the next run with that embedder goes on), while readers keep using the old ones;
    once every note has its new vector, one transaction puts them all in place."""

    def __init__(self, vault: Path, exclude: tuple[str, ...], store: Store, vectors: VectorIndex,
                 load_model: Callable[[], NoteModel], embedder_id: str, model_name: str, content_tokens: int,
                 reads_folder: bool = False):
        self.vault, self.exclude, self.store, self.vectors = vault, exclude, store, vectors
        self.load_model, self.embedder_id, self.model_name = load_model, embedder_id, model_name
        self.content_tokens = content_tokens
        self.reads_folder = reads_folder  # the model's folder-line trait: a note moved to another folder reads anew
        self._unfinished: Plan | None = None  # the rest of the last `reindex` that stepped aside
        self._switch_from: str | None = None  # during a run that switches the index's embedder: the old one

    def reindex(self, progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                batch_seconds: Callable[[], float] | None = None, carry_on: bool = False) -> ReindexSummary:
        """Embed new and changed notes, drop deleted ones. `batch_seconds` (asked before each batch, default
        BATCH_SECONDS) bounds the work between two chances to step aside.

        With `carry_on`, the last run that stepped aside goes on with the rest of its plan, without a new
        scan (a plain run if there is none): for a caller whose watcher syncs what changes in the meantime
        (`sync_paths`). A resumed run that scans first keeps a request that lands as it starts waiting for
        the scan and the decisions (0.3-0.9 s at 10,000 notes on a busy 2-core machine). Its `scanned` is
        then the number of files left in the plan. A file that is gone by the time it is read is dropped."""
        started = time.perf_counter()
        plan, self._unfinished = (self._unfinished if carry_on else None), None
        if plan is None:
            found = scan(self.vault, self.exclude)
            for temp in found.temp_files:  # left beside a note by a `tags --apply` that was killed
                temp.unlink(missing_ok=True)
            known = self.store.known_files()
            plan = self._plan(found.files, vanished(found, known), found.skipped, known)
            scanned = len(found.files)
        else:
            scanned = len(plan.to_read) + len(plan.waiting)
        summary, self._unfinished = self._run(plan, progress, should_stop, batch_seconds=batch_seconds)
        if not summary.cancelled:
            self.store.mark_lexical_complete()
        summary.scanned = scanned
        summary.seconds = time.perf_counter() - started
        return summary

    def sync_paths(self, paths: Iterable[str | Path], progress: Progress | None = None, links: bool = True) -> ReindexSummary:
        """Update just these files or folders, as they are now; `links=False` leaves the links table to
        `update_links()` (resolving every link of a 10,000-note vault takes a good part of a second)."""
        started = time.perf_counter()
        known = self.store.known_files()
        candidates: dict[str, FileStat] = {}
        pre_skipped: list[Skipped] = []
        removed: set[str] = set()
        for path in paths:
            relative = relative_path(self.vault, path)
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
        summary, _ = self._run(self._plan(candidates, removed, pre_skipped, known), progress, None, links)
        summary.scanned = len(candidates)
        summary.seconds = time.perf_counter() - started
        return summary

    def _waiting_for_its_vector(self, file: FileStat, known: KnownFile | None) -> bool:
        """Listed by an earlier run that stopped before embedding it, and unchanged since: its row and
        lexical entry are current, so it is read only when its batch comes (a resumed run starts at once)."""
        return (known is not None and known.skip_reason is None and known.embedded_with is None
                and not known.differs_from(file.mtime_ns, file.size))

    def _needs_reading(self, file: FileStat, known: KnownFile | None) -> bool:
        """New, changed on disk, never embedded by this embedder, or skipped for a reason that can pass
        without the file changing (e.g. permission denied, then chmod)."""
        return (
            known is None
            or known.differs_from(file.mtime_ns, file.size)
            or (known.skip_reason is None and known.embedded_with != self.embedder_id)
            or (known.skip_reason or "").startswith(RETRY_REASONS)
        )

    def _moved_from(self, removed_ids: list[int]) -> dict[str, tuple[int, str]]:
        """text hash -> (id, folder) of these removed notes that have a vector of this embedder (the first of equal
        texts): a new path with the same text is the same note moved."""
        found: dict[str, tuple[int, str]] = {}
        for digest, folder, note_id in self.store.rename_candidates(removed_ids, self.embedder_id):
            found.setdefault(digest, (note_id, folder))
        return found

    def _plan(self, files: dict[str, FileStat], removed: set[str], pre_skipped: list[Skipped],
              known: dict[str, KnownFile]) -> Plan:
        backfill = not self.store.lexical_complete()  # an index made before lexical matching reads every note once
        waiting: list[FileStat] = []
        to_read: list[FileStat] = []
        for path, file in files.items():
            if not backfill and self._waiting_for_its_vector(file, known.get(path)):
                waiting.append(file)
            elif backfill or self._needs_reading(file, known.get(path)):
                to_read.append(file)
        removed_ids = {path: known[path].id for path in removed}
        return Plan(to_read, waiting, removed_ids, pre_skipped, known,
                    moved_from=self._moved_from(list(removed_ids.values())),
                    unchanged=len(files) - len(to_read) - len(waiting))

    def _run(self, plan: Plan, progress: Progress | None, should_stop, links: bool = True,
             batch_seconds: Callable[[], float] | None = None) -> tuple[ReindexSummary, Plan | None]:
        """Carry out a plan: (what it did, the rest of the plan if it stepped aside)."""
        current = self.store.embedder()
        if current == self.embedder_id and not self.store.embedder_recorded():
            # An index made before the embedder was recorded: record it once, so that reads stop scanning the notes.
            self.store.set_embedder(current, self.model_name)
        self._switch_from = current if current not in (None, self.embedder_id) else None
        summary = ReindexSummary(unchanged=plan.unchanged)
        rest: Plan | None = None
        to_read = plan.to_read
        budget = batch_seconds or (lambda: BATCH_SECONDS)
        to_embed: list[tuple[Note, NoteContent]] = []
        if to_read or plan.removed or plan.pre_skipped:  # an empty first chunk still writes the skips and removals
            if len(to_read) > LIST_CHUNK:
                self.load_model()  # a long run will embed: a model that can't be loaded fails before any write
            position, size = 0, FIRST_LIST_CHUNK
            while True:
                started = time.monotonic()
                chunk = to_read[position:position + size]
                to_embed += self._list(chunk, plan.pre_skipped if position == 0 else [], position == 0, plan.known,
                                       plan.moved_from, summary)
                position += len(chunk)
                if position >= len(to_read):
                    break
                # The run steps aside (should_stop) only after it did some work, a chunk listed or a batch
                # embedded, so a run resumed again and again still gets through the vault.
                if should_stop and should_stop():
                    summary.cancelled = True
                    rest = Plan(to_read[position:], [file_stat(item) for item in to_embed] + plan.waiting)
                    break
                # Like the embedding batches, a chunk is about `batch_seconds` of work: a waiting reader
                # waits for no more than that (256 notes took 2-5 s on a busy 2-core machine).
                size = sized_to(budget(), time.monotonic() - started, len(chunk), FIRST_LIST_CHUNK, LIST_CHUNK)

        # Removals before embedding: they cost nothing, and until they are written readers would still
        # relate deleted notes for as long as the batch takes to embed. After listing, which moves renamed notes.
        gone = self.store.still_at(plan.removed)  # not renamed meanwhile
        if gone:
            self.vectors.begin_changes()
            with self.store.transaction():
                self.store.delete_notes(gone)
            self.vectors.remove_many(gone)
            summary.removed = len(gone)
            removed_ids = set(gone)
            summary.removed_paths += [path for path, note_id in plan.removed.items() if note_id in removed_ids]

        if not summary.cancelled:
            # Today's notes first: the related panel works for them within the first minute of a long index.
            queue: list[Queued] = sorted(to_embed + plan.waiting, key=newest_first)
            done = self._embed(queue, summary, progress, should_stop, listed=bool(to_read), batch_seconds=budget)
            if summary.cancelled:
                rest = Plan([], [file_stat(item) for item in queue[done:]])

        if self._switch_from is not None and not summary.cancelled:
            self._finish_switch()
        if links and not summary.cancelled:  # a run that steps aside leaves them to the next
            self.update_links()
        self.vectors.ready()  # a USearch file out of step with SQLite, or damaged, is rebuilt here and saved again
        self.vectors.save()
        return summary, rest

    def _finish_switch(self) -> None:
        """Once every note has its vector from the new embedder (a sync meanwhile may have given one a new
        text), put them all in place in one transaction: readers see the old vectors or the new, never both."""
        if not self.store.switch_complete(self.embedder_id):
            return
        with self.store.transaction():
            self.vectors.replace_all(self.store.finish_switch(self.embedder_id, self.model_name))
        self._switch_from = None

    def _vector_id(self, path: str, text_hash: str) -> int | None:
        """The note at `path` if this embedder already made its vector from this text (during a switch,
        one kept beside the index's own counts)."""
        found = self.store.reusable_id(path, text_hash, self.embedder_id)
        if found is None and self._switch_from is not None:
            found = self.store.switch_vector_id(path, text_hash, self.embedder_id)
        return found

    def _list(self, files: list[FileStat], skips: list[Skipped], links_change: bool, known: dict[str, KnownFile],
              moved_from: dict[str, tuple[int, str]], summary: ReindexSummary) -> list[tuple[Note, NoteContent]]:
        """Read these files and write what they are now in one transaction: skipped, updated in place
        (text and embedder unchanged), renamed, or listed without a vector. Returns the notes to embed."""
        skips = list(skips)
        updates: list[tuple[int, str | None, Note, NoteContent]] = []
        to_embed: list[tuple[Note, NoteContent]] = []
        refiled: list[tuple[Note, NoteContent]] = []  # moved to another folder, which the model reads
        for file in files:
            note = read_note(self.vault, file)
            if isinstance(note, Skipped):
                skips.append(note)
                continue
            content = note_content(note)
            reusable = self._vector_id(note.path, content.text_hash)
            if reusable is not None:
                updates.append((reusable, None, note, content))
                summary.unchanged += 1
            elif note.path not in known and content.text_hash in moved_from:
                note_id, folder = moved_from.pop(content.text_hash)
                updates.append((note_id, note.path, note, content))
                summary.renamed += 1
                if self.reads_folder and folder != content.folder:  # the same note (its suggestions kept), read anew
                    refiled.append((note, content))
            elif self._switch_from is not None and (
                    kept := self.store.reusable_id(note.path, content.text_hash, self._switch_from)) is not None:
                # Same text: readers keep its vector of the index's embedder until the switch ends.
                updates.append((kept, None, note, content))
                to_embed.append((note, content))
            else:
                to_embed.append((note, content))
        to_embed += refiled
        if to_embed:
            self.load_model()  # or ModelError, with this chunk unwritten

        dropped = self._begin_skips(skips)
        with self.store.transaction():
            if links_change:  # in this transaction, so a kill can't lose the mark
                self.store.mark_links_stale()
            self._write_skips(skips, summary)
            for note_id, new_path, note, content in updates:
                self.store.update_note(note_id, content, path=new_path)
                self.store.set_lexical(note_id, lexical.document(note.parsed.title, note.parsed.text))
            for note, content in refiled:  # waits for its new vector (a kill meanwhile leaves it to the next run)
                self.store.list_note(note.path, content)
            updated = {note.path for _, _, note, _ in updates}
            for note, content in to_embed:
                if note.path in updated:
                    continue
                # Listed at once (the app shows it), marked unembedded until its batch is done.
                note_id = self.store.list_note(note.path, content)
                self.store.set_lexical(note_id, lexical.document(note.parsed.title, note.parsed.text))
        self.vectors.remove_many(dropped)
        return to_embed

    def _begin_skips(self, skips: list[Skipped]) -> list[int]:
        """Before the transaction that writes these skips: the ids whose vectors leave USearch after it."""
        dropped = self.store.embedded_ids([skip.path for skip in skips])
        if dropped:
            self.vectors.begin_changes()
        return dropped

    def _write_skips(self, skips: list[Skipped], summary: ReindexSummary) -> None:
        """In the caller's transaction: why each file is not indexed. A file that vanished is no skipped
        note but a removed one (the watcher may have synced its removal already; a note must not come back)."""
        vanished_paths = [skip.path for skip in skips if skip.reason == VANISHED]
        gone = self.store.ids_at(vanished_paths)
        if gone:
            self.store.delete_notes(gone)
            self.store.mark_links_stale()
            summary.removed += len(gone)
            summary.removed_paths += vanished_paths
        for skip in skips:
            if skip.reason != VANISHED:
                self.store.mark_skipped(skip.path, readable(Path(skip.path).stem), folder_of(skip.path), skip.reason, skip.mtime_ns,
                                        skip.size)
                summary.skipped += 1

    def update_links(self) -> bool:
        """Resolve every note's links again if notes changed since the last time; True if it did."""
        if not self.store.links_stale():
            return False
        self._rebuild_links()
        return True

    def _embed(self, queue: list[Queued], summary: ReindexSummary, progress, should_stop, listed: bool,
               batch_seconds: Callable[[], float]) -> int:
        """Embed and commit in batches of at most EMBED_BATCH notes and about BATCH_SECONDS of work,
        so that a kill loses at most a couple of seconds (the first batch is one note, to measure).
        A note still waiting from an earlier run (a FileStat) is read now; if it can't be, it is skipped,
        and if its text got a vector meanwhile (a sync), it is left as it is. Returns how many of the
        queue it went through."""
        total = len(queue)
        if progress:
            progress(0, total)
        if not queue:
            return 0
        model = self.load_model()
        last_save = time.monotonic()
        done, size = 0, 1
        while done < total:
            if should_stop and (done or listed) and should_stop():
                summary.cancelled = True
                break
            items = queue[done:done + size]
            started = time.monotonic()
            batch, skips = [], []
            for item in items:
                if isinstance(item, tuple):  # read in this run: `_list` found no vector to reuse
                    batch.append(item)
                    continue
                note = read_note(self.vault, item)
                if isinstance(note, Skipped):
                    skips.append(note)
                    continue
                content = note_content(note)
                if self._vector_id(note.path, content.text_hash) is None:
                    batch.append((note, content))
                else:  # a sync embedded this text meanwhile
                    summary.unchanged += 1
            vectors = model.embed_notes([note.prompt_fields for note, _ in batch], self.content_tokens) if batch else []
            seconds = time.monotonic() - started
            dropped = self._begin_skips(skips)
            switching = self._switch_from is not None
            if not switching:
                self.vectors.begin_changes(model.dimensions)
            with self.store.transaction():
                self._write_skips(skips, summary)
                if switching:  # beside the index's vectors, which readers (and USearch) go on using
                    for (note, content), vector in zip(batch, vectors):
                        self.store.store_switch_vector(note.path, content, vector, self.embedder_id)
                    ids = []
                else:
                    if batch and self.store.embedder() is None:  # the index's first vectors
                        self.store.set_embedder(self.embedder_id, self.model_name)
                    ids = [self.store.store_embedding(note.path, content, vector, self.embedder_id)
                           for (note, content), vector in zip(batch, vectors)]
            self.vectors.remove_many(dropped)
            for note_id, vector in zip(ids, vectors):
                self.vectors.upsert(note_id, vector)
            done += len(items)
            size = sized_to(batch_seconds(), seconds, len(items), 1, EMBED_BATCH)
            summary.embedded += len(batch)
            summary.embedded_paths += [note.path for note, _ in batch]
            if progress:
                progress(done, total)
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                self.vectors.save()
                last_save = time.monotonic()
        return done

    def _rebuild_links(self) -> None:
        sources = self.store.link_sources()
        ids = {source.path: source.id for source in sources}
        resolver = LinkResolver(list(ids), {source.path: source.aliases for source in sources})
        pairs = set()
        for source in sources:
            for target, kind in source.links:
                resolved = resolver.resolve(source.path, Link(target=target, kind=kind))
                if resolved and resolved != source.path:
                    pairs.add((source.id, ids[resolved]))
        with self.store.transaction():
            self.store.replace_links(sorted(pairs))
