"""Personalize on a vault that has its map: does the personal model still gain where the app's ranking already
learns from the vault's links (`engine.vault_map`)?

For each collection: a fifth of its link couples is held out (seeded), and a copy of the vault is written with
those links cut, words included, as `notellm-train prepare --holdout` holds links out (`training.data`). The copy
is indexed with the default model as a user's vault would be (`notellm-engine reindex`, which chooses the weighting
and fits the map from the links left), then personalized (`notellm-engine personalize --reindex`, its own fifth of the remaining links deciding), and each
held-out link A → B is asked of `VaultIndex.related(A)` before and after: R@10 of B, the linked notes hidden as
the panel's "Hide linked" does. The held-out links are ones neither the map nor personalize ever saw.

    .venv/bin/python experiments/personalize_mapped.py AshCashh__University-Notes Morgawr__morg-zettel --steps 60

Each collection's row replaces its earlier one of the same `--seed` (the split) in `--out`
(docs/benchmarks/personalize.json, which `bench/report.py` reads for the model issue's personalize target).

Rows: what the app shows (with the map where the vault kept one), the same without the map, the model alone
(no words, folders or named notes) with and without the map.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notellm.engine import VaultIndex
from notellm.engine.fusion_weight import META_KEY
from notellm.training.corpus import DEFAULT_CORPUS, extract, read_manifest
from notellm.training.data import held_out_couples, link_couples, link_edges, links_to_cut, read_vault, remove_links

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "assets/models/notellm-default.gguf"
ENGINE = [str(Path(sys.executable).parent / "notellm-engine")]
HELD_OUT = 0.2
RECALL_AT = 10
TEMPORARY_PATHS = ("vault", "model", "previous_model", "work_dir")  # personalize's answer names the copy's files
VIEWS = {  # VaultIndex switches for each row
    "app": {},
    "app, no map": {"use_vault_map": False},
    "model + map": {"fuse_lexical": False, "fuse_folders": False, "fuse_mentions": False},
    "model alone": {"fuse_lexical": False, "fuse_folders": False, "fuse_mentions": False, "use_vault_map": False},
}


def held_out_copy(source: Path, target: Path, seed: int) -> list[tuple[str, str]]:
    """Write `source`'s notes to `target` with a seeded fifth of the link couples cut; returns those links."""
    notes, sources, resolver = read_vault(source)
    couples = link_couples(link_edges(notes, resolver))
    held = held_out_couples(sorted(couples), HELD_OUT, random.Random(f"{seed}:{source.name}"))
    cut = links_to_cut(held, couples)
    for path, text in sources.items():
        out = target / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(remove_links(text, path, cut[path], resolver) if path in cut else text, encoding="utf-8")
    return [link for couple in sorted(held) for link in couples[couple]]


def recall(vault: Path, held: list[tuple[str, str]]) -> dict[str, float]:
    index = VaultIndex.open(vault)
    try:
        scores = {}
        for view, switches in VIEWS.items():
            for name, value in {"use_vault_map": True, "fuse_lexical": True, "fuse_folders": True,
                                "fuse_mentions": True, **switches}.items():
                setattr(index, name, value)
            found = sum(b in {hit.path for hit in index.related(a, k=RECALL_AT, hide_linked=True)} for a, b in held)
            scores[view] = found / len(held)
        calibration = index.store.get_meta(META_KEY)
        scores["map kept"] = bool(calibration and json.loads(calibration).get("mapped"))
        return scores
    finally:
        index.close()


def engine(*args: str) -> dict | None:
    done = subprocess.run([*ENGINE, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"notellm-engine {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout) if "--json" in args else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collections", nargs="+")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache/corpus")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/personalize.json")
    args = parser.parse_args()
    collections = {collection.name: collection for collection in read_manifest(args.corpus)}
    rows = []
    for name in args.collections:
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            os.environ["NOTELLM_HOME"] = str(work / "home")
            vault = work / name
            held = held_out_copy(extract(args.corpus, collections[name], args.cache), vault, args.seed)
            engine("reindex", str(vault), "--model", str(DEFAULT_MODEL), "--quiet")
            before = recall(vault, held)
            started = time.perf_counter()
            result = engine("personalize", str(vault), "--steps", str(args.steps), "--threads", str(args.threads),
                            "--reindex", "--json")
            after = recall(vault, held)
            outcome = {key: value for key, value in result.items() if key not in TEMPORARY_PATHS}
            row = {"collection": name, "date": time.strftime("%Y-%m-%d"), "seed": args.seed, "held-out links": len(held),
                   "default": before, "personalized": after, "personalize": outcome,
                   "seconds": round(time.perf_counter() - started)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    earlier = json.loads(args.out.read_text()) if args.out.exists() else []
    measured = {(row["collection"], row["seed"]) for row in rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    kept = [row for row in earlier if (row["collection"], row["seed"]) not in measured]
    args.out.write_text(json.dumps(kept + rows, indent=1) + "\n")
    print("\n| collection | held-out links | view | default | personalized |\n|---|---|---|---|---|")
    for row in rows:
        for view in VIEWS:
            print(f"| {row['collection']} | {row['held-out links']} | {view} | {row['default'][view]:.3f} | "
                  f"{row['personalized'][view]:.3f} |")


if __name__ == "__main__":
    main()
