"""Training data from vaults: related-note pairs (GCL), generation targets (CSFT) and a held-out link split.

Notes are read exactly as the engine reads them (`engine.vault.read_notes`, `engine.markdown.parse_note`)
and links resolved with the engine's `LinkResolver`. Related pairs come from

- links and backlinks (one undirected pair per linked couple of notes),
- the app's recorded navigation events (`events` table of the vault's index), weighted as NoteLLM weights
  co-occurrence (arXiv 2403.01744, section 3.1): each session's clicks count 1/N, N its number of clicks;
  pairs below a threshold are dropped and each note keeps its top partners,
- optionally notes that share a tag (or, without tags, a category).

A fixed-seed 20% of each vault's link pairs is held out for evaluation; the text of every held-out link
(the whole `[[...]]` or `[...](...)`) is removed from the linking note, so the target's title cannot leak
into the query. Files written: notes.jsonl, train_pairs.jsonl, heldout_pairs.jsonl, manifest.json.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from notellm.engine import markdown
from notellm.engine.config import index_dir_for
from notellm.engine.errors import IndexCorruptError
from notellm.engine.hashtags import tag_key
from notellm.engine.markdown import parse_note
from notellm.engine.store import Store
from notellm.engine.training_report import MANIFEST_FILE, DataManifest, VaultSummary, write_manifest
from notellm.engine.vault import LinkResolver, Note, folder_of, read_notes

from .tag_head import head_tag

MAX_TOPICS = 5
SESSION_GAP_S = 30 * 60


class DataError(Exception):
    """A vault or a prepared data folder cannot be used."""


@dataclass
class PrepareConfig:
    holdout: float = 0.2
    seed: int = 0
    links: bool = True  # link/backlink pairs (off for folders whose links are an index, e.g. a TIL README)
    same_tag_pairs: bool = False
    same_tag_partners: int = 2  # same-tag partners sampled per note
    min_cooccurrence: float = 1.0  # summed 1/N weight a co-occurrence pair needs
    cooccurrence_top: int = 10  # partners kept per note
    exclude: tuple[str, ...] = ()
    max_pairs: int = 0  # keep a seeded sample of this many training pairs (0: all)


@dataclass
class NoteRecord:
    id: str  # "<vault name>/<path>"
    vault: str
    path: str
    title: str
    text: str  # as the engine reads it, held-out link text removed
    tags: list[str] = field(default_factory=list)
    category: str | None = None
    target_kind: str | None = None  # "topics" | "category" | None
    targets: list[str] = field(default_factory=list)


GENERIC_FOLDER_NAMES = {"docs", "doc", "vault", "notes", "content", "src"}


def vault_name(vault: Path) -> str:
    """A vault's short name: its folder's, qualified by the parent for generic names (foam-docs/docs -> foam-docs-docs)."""
    root = Path(vault).resolve()
    return f"{root.parent.name}-{root.name}" if root.name.lower() in GENERIC_FOLDER_NAMES else root.name


def csft_target(tags: list[str], category: str | None, path: str) -> tuple[str | None, list[str]]:
    """The generation target: the note's hashtags, else its category (frontmatter, else top folder)."""
    if tags:
        return "topics", tags[:MAX_TOPICS]
    if category:
        return "category", [category]
    folder = folder_of(path)
    if folder:
        return "category", [folder.split("/", 1)[0]]
    return None, []


def remove_links(source: str, source_path: str, targets: set[str], resolver: LinkResolver) -> str:
    """Drop every wikilink or Markdown link in `source` that resolves to one of `targets`, whole."""
    return markdown.remove_links(source, lambda link: resolver.resolve(source_path, link) in targets)


def read_vault(root: Path, exclude: tuple[str, ...] = ()) -> tuple[dict[str, Note], dict[str, str], LinkResolver]:
    """(notes by path, sources by path, resolver) — skipped files are left out, as the engine does."""
    notes = {note.path: note for note in read_notes(root, exclude)}
    sources = {path: (Path(root) / path).read_bytes().decode("utf-8-sig") for path in notes}
    aliases = {path: note.parsed.aliases for path, note in notes.items()}
    return notes, sources, LinkResolver(list(notes), aliases)


def link_edges(notes: dict[str, Note], resolver: LinkResolver) -> list[tuple[str, str]]:
    """Directed (source, target) edges between two different notes, deduplicated, in a stable order."""
    edges = []
    for path in sorted(notes):
        for link in notes[path].parsed.links:
            target = resolver.resolve(path, link)
            if target and target != path and target in notes:
                edges.append((path, target))
    return list(dict.fromkeys(edges))


def cooccurrence_pairs(vault: Path, known: set[str], config: PrepareConfig) -> list[tuple[str, str, float]]:
    """Pairs from the app's navigation events: sessions split at 30-minute gaps, each click weighted 1/N."""
    db_path = index_dir_for(vault) / "index.db"
    if not db_path.exists():
        return []
    try:
        with Store(db_path, read_only=True) as store:
            events = store.events("navigate")
    except (sqlite3.DatabaseError, IndexCorruptError):
        return []
    sessions: list[list[tuple[str, str]]] = []
    last_at = None
    for event in sorted(events, key=lambda e: (e["at"], e["id"])):
        source, target, at = event["source_path"], event["target_path"], event["at"]
        if last_at is None or at - last_at > SESSION_GAP_S:
            sessions.append([])
        last_at = at
        if source in known and target in known and source != target:
            sessions[-1].append((source, target))
    scores: dict[tuple[str, str], float] = defaultdict(float)
    for clicks in sessions:
        for source, target in clicks:
            scores[tuple(sorted((source, target)))] += 1.0 / len(clicks)
    partners: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for (a, b), score in scores.items():
        if score >= config.min_cooccurrence:
            partners[a].append((score, b))
            partners[b].append((score, a))
    kept = set()
    for note, scored in partners.items():
        for score, other in sorted(scored, key=lambda x: (-x[0], x[1]))[: config.cooccurrence_top]:
            kept.add(tuple(sorted((note, other))))
    return [(a, b, scores[(a, b)]) for a, b in sorted(kept)]


def same_tag_pairs(records: list[NoteRecord], partners: int, rng: random.Random) -> list[tuple[str, str]]:
    """Each note paired with up to `partners` random notes sharing one of its labels (its CSFT targets)."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for record in records:
        for label in record.targets:
            by_label[label.casefold()].append(record.id)
    pairs = set()
    for record in records:
        labels = record.targets
        candidates = sorted({other for label in labels for other in by_label[label.casefold()] if other != record.id})
        for other in rng.sample(candidates, min(partners, len(candidates))):
            pairs.add(tuple(sorted((record.id, other))))
    return sorted(pairs)


def link_couples(edges: list[tuple[str, str]]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """{a linked couple of notes (its two paths sorted): its links, either way}."""
    undirected: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for source, target in edges:
        undirected.setdefault(tuple(sorted((source, target))), []).append((source, target))
    return undirected


def held_out_couples(couples: list[tuple[str, str]], holdout: float, rng: random.Random) -> set[tuple[str, str]]:
    """The share `holdout` of `couples`, drawn by `rng` (each couple held out whole, so neither direction leaks)."""
    shuffled = couples[:]
    rng.shuffle(shuffled)
    return set(shuffled[:int(round(len(couples) * holdout))])


def links_to_cut(held: set[tuple[str, str]], undirected: dict[tuple[str, str], list[tuple[str, str]]]) -> dict[str, set[str]]:
    """{source path: the targets of its held-out links}, to cut from its text with `remove_links`."""
    removed: dict[str, set[str]] = defaultdict(set)
    for couple in held:
        for source, target in undirected[couple]:
            removed[source].add(target)
    return removed


def prepare_vault(root: Path, config: PrepareConfig, name: str | None = None) -> tuple[list[NoteRecord], list[dict], list[dict]]:
    """(notes, train pairs, held-out pairs) for one vault."""
    root = Path(root).resolve()
    name = name or vault_name(root)
    notes, sources, resolver = read_vault(root, config.exclude)
    if not notes:
        raise DataError(f"no readable notes in {root}")
    undirected = link_couples(link_edges(notes, resolver) if config.links else [])
    couples = sorted(undirected)
    rng = random.Random(f"{config.seed}:{name}")
    held = held_out_couples(couples, config.holdout, rng)
    removed = links_to_cut(held, undirected)  # source path -> held-out targets to cut out

    def note_id(path: str) -> str:
        return f"{name}/{path}"

    records = []
    for path in sorted(notes):
        parsed = notes[path].parsed
        if path in removed:
            parsed = parse_note(remove_links(sources[path], path, removed[path], resolver), PurePosixPath(path).stem)
        kind, targets = csft_target(notes[path].parsed.tags, notes[path].parsed.category, path)
        records.append(
            NoteRecord(note_id(path), name, path, parsed.title, parsed.text, notes[path].parsed.tags,
                       notes[path].parsed.category, kind, targets)
        )

    train_pairs = [
        {"a": note_id(a), "b": note_id(b), "kind": "link", "weight": 1.0} for a, b in couples if (a, b) not in held
    ]
    seen = {(p["a"], p["b"]) for p in train_pairs}
    held_ids = {(note_id(a), note_id(b)) for a, b in held}
    for a, b, score in cooccurrence_pairs(root, set(notes), config):
        key = (note_id(a), note_id(b))
        if key not in seen and key not in held_ids:
            seen.add(key)
            train_pairs.append({"a": key[0], "b": key[1], "kind": "cooccurrence", "weight": score})
    if config.same_tag_pairs:
        for a, b in same_tag_pairs(records, config.same_tag_partners, rng):
            if (a, b) not in seen and (a, b) not in held_ids:
                seen.add((a, b))
                train_pairs.append({"a": a, "b": b, "kind": "tag", "weight": 1.0})
    heldout = [
        {"vault": name, "source": note_id(source), "target": note_id(target)}
        for couple in sorted(held)
        for source, target in undirected[couple]
    ]
    return records, train_pairs, heldout


def write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def prepare(vaults: list[Path], out: Path, config: PrepareConfig | None = None) -> dict:
    """Prepare every vault into `out`; returns the manifest as a dict (also written, see `DataManifest`)."""
    config = config or PrepareConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    all_notes, all_pairs, all_held = [], [], []
    per_vault = {}
    for vault in vaults:
        vault = Path(vault)
        if not vault.is_dir():
            raise DataError(f"vault folder not found: {vault}")
        name = vault_name(vault)
        if name in names:
            raise DataError(f"two vaults are both named {name!r}")
        names.append(name)
        records, pairs, held = prepare_vault(vault, config, name)
        all_notes += records
        all_pairs += pairs
        all_held += held
        per_vault[name] = VaultSummary(
            path=str(vault.resolve()),
            notes=len(records),
            train_pairs=dict(sorted(Counter(p["kind"] for p in pairs).items())),
            heldout_links=len(held),
            csft=dict(sorted(Counter(r.target_kind or "none" for r in records).items())),
        )
    if config.max_pairs and len(all_pairs) > config.max_pairs:
        all_pairs = random.Random(config.seed).sample(all_pairs, config.max_pairs)
    manifest = asdict(DataManifest(config=asdict(config), vaults=per_vault, notes=len(all_notes),
                                   train_pairs=len(all_pairs), heldout_pairs=len(all_held)))
    Dataset({r.id: asdict(r) for r in all_notes}, all_pairs, all_held, manifest).save(out)
    return manifest


@dataclass
class Dataset:
    notes: dict[str, dict]
    pairs: list[dict]
    heldout: list[dict]
    manifest: dict

    @classmethod
    def load_many(cls, folders: list[Path]) -> "Dataset":
        """Several prepared folders as one training set (e.g. linked vaults + category-paired TIL folders)."""
        parts = [cls.load(folder) for folder in folders]
        if len(parts) == 1:
            return parts[0]
        notes: dict[str, dict] = {}
        for part in parts:
            clash = set(notes) & set(part.notes)
            if clash:
                raise DataError(f"a vault appears in two data folders: {sorted(clash)[0]}")
            notes.update(part.notes)
        return cls(notes, [p for part in parts for p in part.pairs], [p for part in parts for p in part.heldout],
                   {"parts": [part.manifest for part in parts]})

    def languages(self) -> dict[str, str]:
        """Each vault's main language, where `prepare-corpus` recorded it (in every part of a `load_many`)."""
        manifests = self.manifest.get("parts", [self.manifest])
        return {vault: language for manifest in manifests for vault, language in manifest.get("languages", {}).items()}

    @classmethod
    def load(cls, folder: Path) -> "Dataset":
        folder = Path(folder)
        if not (folder / "notes.jsonl").exists():
            raise DataError(f"{folder} is not a prepared data folder (no notes.jsonl); run `notellm-train prepare`")
        notes = {row["id"]: row for row in read_jsonl(folder / "notes.jsonl")}
        manifest_path = folder / MANIFEST_FILE
        manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
        return cls(notes, read_jsonl(folder / "train_pairs.jsonl"), read_jsonl(folder / "heldout_pairs.jsonl"), manifest)

    def save(self, folder: Path) -> None:
        """Write the folder `load` reads (created if missing)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_jsonl(folder / "notes.jsonl", self.notes.values())
        write_jsonl(folder / "train_pairs.jsonl", self.pairs)
        write_jsonl(folder / "heldout_pairs.jsonl", self.heldout)
        write_manifest(folder, self.manifest)


# A tag on more than this share of a vault's notes labels the vault (`public`, `lang/en`, `state/tidy`), not the
# note: the writer is not taught to write it.
WRITER_VAULT_LABEL_SHARE = 0.3
# A tag the writer learns must be a topic another vault could use: of at most this many parts (`type/quote`), and
# either carried in at least `WRITER_SHARED_BY` vaults or named by the note's own words. One vault's house labels
# (`note/specific/exact`, `mte220`) taught the first writer to put them on every note of an unseen vault.
WRITER_TAG_PARTS = 2
WRITER_SHARED_BY = 2
# At most this many notes per vault, so that the largest collections (5,580 tagged notes in one) do not teach
# the writer their house style alone.
WRITER_NOTES_PER_VAULT = 600
WRITER_MIN_TEXT_CHARS = 40


def writer_learns(tag: str, note_words: set[str], vaults: int) -> bool:
    """Whether the writer is taught `tag` on a note with `note_words` (casefolded), the tag being carried in `vaults`
    vaults: a topic of few parts, no part one vault's own thing (`training.tag_head.head_tag`), shared by vaults or
    named by the note."""
    parts = tag.split("/")
    if len(tag_key(tag)) < 2 or len(parts) > WRITER_TAG_PARTS or any(head_tag(part) is None for part in parts):
        return False
    words = [word for part in parts for word in re.split(r"[-_]+", part) if word]
    return vaults >= WRITER_SHARED_BY or all(word.casefold() in note_words for word in words)


def writer_data(source: Path, out: Path, seed: int = 0) -> dict:
    """A CSFT-only data folder for the hashtag writer, from a prepared one. Its notes are those that carry a tag
    that is not a vault-wide label (`WRITER_VAULT_LABEL_SHARE`) and that the writer learns (`writer_learns`), and
    have some text, at most `WRITER_NOTES_PER_VAULT` per vault (a seeded sample); each has every inline #tag cut from its text (an
    untagged vault shows the writer no tags to copy). They are paired at random within their vault: the
    training loop takes pairs, and the writer trains on the generation loss (`--alpha`)."""
    data = Dataset.load(source)
    by_vault: dict[str, list[dict]] = defaultdict(list)
    for note in data.notes.values():
        if note.get("target_kind") == "topics":
            by_vault[note["vault"]].append(note)
    vaults_of = defaultdict(set)
    for vault, tagged in by_vault.items():
        for note in tagged:
            for tag in note["targets"]:
                vaults_of[tag_key(tag)].add(vault)
    rng = random.Random(seed)
    notes, pairs, per_vault = [], [], {}
    for vault in sorted(by_vault):
        tagged = by_vault[vault]
        carriers = Counter(tag for note in tagged for tag in set(note["targets"]))
        labels = {tag for tag, count in carriers.items() if count > WRITER_VAULT_LABEL_SHARE * len(tagged)}
        kept = []
        for note in sorted(tagged, key=lambda note: note["id"]):
            text = markdown.INLINE_TAG.sub("", note["text"])
            words = {word.casefold() for word in re.findall(r"\w+", note["title"] + " " + text)}
            targets = [tag for tag in note["targets"] if tag not in labels and writer_learns(tag, words, len(vaults_of[tag_key(tag)]))]
            if targets and len(text.strip()) >= WRITER_MIN_TEXT_CHARS:
                kept.append({**note, "text": text, "targets": targets})
        kept = rng.sample(kept, min(len(kept), WRITER_NOTES_PER_VAULT))
        if len(kept) < 2:
            continue
        notes += kept
        pairs += [{"a": a["id"], "b": b["id"], "kind": "tag", "weight": 1.0} for a, b in zip(kept[::2], kept[1::2])]
        per_vault[vault] = VaultSummary(path=vault, notes=len(kept), train_pairs={"tag": len(kept) // 2}, heldout_links=0,
                                        csft={"topics": len(kept)})
    if not pairs:
        raise DataError(f"{source} has no two notes with note-specific tags in one vault: nothing for the writer to learn")
    manifest = asdict(DataManifest(config={"writer_of": str(source), "seed": seed}, vaults=per_vault, notes=len(notes),
                                   train_pairs=len(pairs), heldout_pairs=0))
    Dataset({note["id"]: note for note in notes}, pairs, [], manifest).save(out)
    return manifest
