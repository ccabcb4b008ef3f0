"""The shared note corpus: public note collections as `.tar.gz` archives plus `manifest.jsonl`, and the
split of those collections into the ones that train and the ones that judge.

Models are judged on collections they never saw, because a new user's vault is always one the model
never saw. The split is a pure function of the manifest and a seed, so every run of the evaluation and
of training agrees on it without storing it anywhere.

Archives are extracted once into a cache folder, safely (regular files and folders only, nothing that
climbs out of the collection's own folder), and then read by the engine's own vault reader.
"""

from __future__ import annotations

import json
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from notellm.engine.config import REPO_ROOT
from notellm.engine.training_report import write_manifest

DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
MANIFEST = "manifest.jsonl"
CJK = ("zh", "ja", "ko")
EXTRACTED_MARK = ".extracted"


class CorpusError(Exception):
    """The corpus folder, its manifest or an archive cannot be used."""


@dataclass(frozen=True)
class Collection:
    """One manifest row: a public repository's notes, as one archive."""

    repo: str
    archive: str
    language: str  # "en", "zh", "en,de" (several: the first is the main one)
    licence: str
    notes: int
    edges: int
    tagged_notes: int
    topic: str = ""

    @property
    def name(self) -> str:
        """A file-system-safe name: the archive's, without `.tar.gz` (owner__repo)."""
        return self.archive.removesuffix(".tar.gz")

    @property
    def main_language(self) -> str:
        return self.language.replace("+", ",").split(",")[0].strip()

    @property
    def english(self) -> bool:
        return self.main_language == "en"

    @property
    def cjk(self) -> bool:
        return self.main_language in CJK


def read_manifest(corpus: Path = DEFAULT_CORPUS) -> list[Collection]:
    path = Path(corpus) / MANIFEST
    if not path.exists():
        raise CorpusError(f"no {MANIFEST} in {corpus}: pass the folder that holds the corpus archives")
    collections = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                collections.append(Collection(
                    repo=row["repo"], archive=row["archive"], language=row.get("language", "en"),
                    licence=row.get("licence", "none"), notes=int(row.get("notes", 0)), edges=int(row.get("edges", 0)),
                    tagged_notes=int(row.get("tagged_notes", 0)), topic=row.get("topic", ""),
                ))
            except (ValueError, KeyError) as error:
                raise CorpusError(f"{path}:{number}: not a manifest row ({error})") from error
    return collections


def _safe_members(archive: tarfile.TarFile, root: Path):
    """Regular files and folders whose path stays inside `root`; links, devices and `..` are left out."""
    for member in archive.getmembers():
        if not (member.isfile() or member.isdir()):
            continue
        parts = PurePosixPath(member.name).parts
        if not parts or member.name.startswith("/") or ".." in parts:
            continue
        if not (root / member.name).resolve().is_relative_to(root.resolve()):
            continue
        yield member


def extract(corpus: Path, collection: Collection, cache: Path) -> Path:
    """The collection as a folder of notes under `cache` (extracted on first use; later calls are free)."""
    root = Path(cache) / collection.name
    if (root / EXTRACTED_MARK).exists():
        return root
    archive_path = Path(corpus) / collection.archive
    if not archive_path.exists():
        raise CorpusError(f"{collection.archive} is listed in the manifest but not in {corpus}")
    root.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            archive.extractall(root, members=list(_safe_members(archive, root)), filter="data")
    except (tarfile.TarError, OSError) as error:
        raise CorpusError(f"cannot read {archive_path.name}: {error}") from error
    (root / EXTRACTED_MARK).write_text(collection.archive + "\n", encoding="utf-8")
    return root


@dataclass(frozen=True)
class SplitRule:
    """How the validation collections are drawn: `size` of them by `seed`, from those small enough to
    embed with every model in one CPU evaluation run and linked enough to give queries; at least
    `non_english` of them not English, `cjk` of those Chinese, Japanese or Korean."""

    seed: int = 0
    size: int = 10
    max_notes: int = 400
    min_edges: int = 100
    non_english: int = 3
    cjk: int = 1


DEFAULT_SPLIT = SplitRule()


@dataclass(frozen=True)
class Split:
    train: tuple[Collection, ...]
    validation: tuple[Collection, ...]


def split_collections(collections: list[Collection], rule: SplitRule = DEFAULT_SPLIT) -> Split:
    """Disjoint train/validation collections, the same for the same manifest and rule.

    The draw shuffles the eligible collections by seed, takes the first CJK ones, then the first other
    non-English ones, then fills up in shuffled order; everything not drawn trains.
    """
    ordered = sorted(collections, key=lambda c: c.name)
    eligible = [c for c in ordered if c.notes <= rule.max_notes and c.edges >= rule.min_edges]
    random.Random(rule.seed).shuffle(eligible)
    chosen: list[Collection] = [c for c in eligible if c.cjk][: rule.cjk]
    for collection in eligible:
        if sum(not c.english for c in chosen) >= rule.non_english:
            break
        if not collection.english and collection not in chosen:
            chosen.append(collection)
    for collection in eligible:
        if len(chosen) >= rule.size:
            break
        if collection not in chosen:
            chosen.append(collection)
    if len(chosen) < rule.size or sum(c.cjk for c in chosen) < rule.cjk or sum(not c.english for c in chosen) < rule.non_english:
        raise CorpusError(
            f"only {len(eligible)} collections have <= {rule.max_notes} notes and >= {rule.min_edges} links: "
            f"cannot draw {rule.size} with {rule.non_english} non-English ({rule.cjk} CJK)"
        )
    validation = tuple(sorted(chosen, key=lambda c: c.name))
    taken = {c.name for c in validation}
    return Split(train=tuple(c for c in ordered if c.name not in taken), validation=validation)


def prepare_training_data(corpus: Path, out: Path, cache: Path, rule: SplitRule = DEFAULT_SPLIT,
                          extra_vaults: tuple[Path, ...] = (), progress=None) -> dict:
    """`notellm-train prepare` over every training collection of the split (nothing held out: whole
    collections are held out instead), plus `extra_vaults`; returns the manifest written into `out`."""
    from .data import PrepareConfig, prepare

    split = split_collections(read_manifest(corpus), rule)
    roots = []
    for number, collection in enumerate(split.train, 1):
        roots.append(extract(corpus, collection, cache))
        if progress:
            progress(number, len(split.train), collection.name)
    manifest = prepare(roots + [Path(v) for v in extra_vaults], out, PrepareConfig(holdout=0.0))
    manifest["split"] = {"rule": rule.__dict__, "validation": [c.name for c in split.validation]}
    manifest["languages"] = {c.name: c.main_language for c in split.train}  # for `train --language-balance`
    write_manifest(out, manifest)
    return manifest
