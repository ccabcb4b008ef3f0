"""The engine's lexical match as a teacher for `notellm-train train --teacher`: each note's words as a vector.

    .venv/bin/python experiments/lexical_teacher.py data/corpus -o runs/lexical-teacher.npz [--drawn-by-steps 300]
    .venv/bin/python experiments/lexical_teacher.py --check

The model issue's lever "use the fused ranking as the teacher": the fused ranking is the model's own cosine and the
words notes share, so what a teacher can add is the words' half. Similarity distillation
(`training/losses/distillation.py`) needs the teacher as vectors whose cosine orders a batch's notes; the words'
match is BM25 over `engine.lexical` terms, so each note becomes the vector of its terms weighted by
(1 + log tf) × BM25's idf within its own collection (every step's batch is drawn from one collection), terms in
more than `engine.lexical.COMMON_SHARE` of the collection's notes (and `COMMON_FLOOR`) left out as the engine's query leaves them, hashed
with a sign into `DIMENSIONS` buckets and L2-normalised. The file is the (ids, float16 vectors) `train --teacher`
reads; with `--drawn-by-steps` only the notes the run's first steps draw (`training.teacher.drawn_notes`).
`--check` scores the vectors' cosine on the validation collections' links beside the engine's lexical match (`check`).
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

DIMENSIONS = 4096


def bucket(term: str) -> tuple[int, float]:
    """The term's bucket and sign, the same in every process (Python's own hash is salted)."""
    code = zlib.crc32(term.encode("utf-8"))
    return code % DIMENSIONS, 1.0 if (code >> 31) & 1 else -1.0


def word_vectors(collection: list[dict]) -> np.ndarray:
    """One collection's notes (title, text) as unit vectors of their words (zero for a note without a kept word)."""
    from notellm.engine.lexical import COMMON_FLOOR, COMMON_SHARE, document, terms

    counts = [Counter(terms(document(note["title"], note["text"]))) for note in collection]
    frequency = Counter(term for count in counts for term in count)
    n, most = len(collection), max(COMMON_SHARE * len(collection), COMMON_FLOOR)
    idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items() if df <= most}
    vectors = np.zeros((n, DIMENSIONS), dtype=np.float32)
    for row, count in enumerate(counts):
        for term, tf in count.items():
            if term in idf:
                slot, sign = bucket(term)
                vectors[row, slot] += sign * (1 + math.log(tf)) * idf[term]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def check() -> None:
    """On the validation collections' links (macro R@10): the word vectors' cosine beside the engine's lexical match
    (BM25 over a note's first `MAX_QUERY_TERMS` distinct terms), both fused, and each as the words' list of the app's
    ranking (the default's cached vectors, the folders and the named notes, each collection at the weighting its
    other links choose, as `bench/heldout.py` scores the app)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import heldout as bench

    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import app_ranks, cosine_scores, fuse, link_metrics, link_ranks

    key = bench.model_key(Path(__file__).resolve().parents[1] / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    _, _, validation = bench.validation_collections()
    rows = []
    for data in validation:
        model = cosine_scores(np.load(bench.CACHE / f"default-{key}" / f"{data.name}.npz")["vectors"], data.sources)
        bm25 = LexicalRanker().scores(data.notes, data.sources)
        cosine = cosine_scores(word_vectors(data.notes), data.sources)
        row = {}
        for name, words in (("the engine's lexical match", bm25), ("word vectors", cosine), ("both fused", fuse([bm25, cosine]))):
            row[f"{name} alone"] = link_metrics(link_ranks(words, data))["R@10"]
            row[f"{name} in the app's ranking"] = float(np.mean(app_ranks(model, words, data) <= 10))
        rows.append(row)
        print(data.name + ": " + ", ".join(f"{name} {value:.3f}" for name, value in row.items()), flush=True)
    print("macro R@10: " + ", ".join(f"{name} {np.mean([row[name] for row in rows]):.3f}" for name in rows[0]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path, nargs="?")
    parser.add_argument("-o", "--out", type=Path)
    parser.add_argument("--drawn-by-steps", type=int, default=0)
    parser.add_argument("--batch-pairs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="score the word vectors on the validation collections instead")
    args = parser.parse_args()
    if args.check:
        return check()

    from notellm.training.teacher import drawn_notes, save_teacher

    with open(args.data / "notes.jsonl", encoding="utf-8") as handle:
        notes = [json.loads(line) for line in handle]
    wanted = drawn_notes(args.data, args.drawn_by_steps, args.batch_pairs, args.seed) if args.drawn_by_steps else None
    by_vault = defaultdict(list)
    for note in notes:
        by_vault[note["vault"]].append(note)
    ids, vectors = [], []
    for members in by_vault.values():
        if wanted is not None and not any(note["id"] in wanted for note in members):
            continue
        for note, vector in zip(members, word_vectors(members)):
            if (wanted is None or note["id"] in wanted) and vector.any():
                ids.append(note["id"])
                vectors.append(vector[None, :])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_teacher(args.out, ids, vectors)
    print(f"{len(ids)} notes' word vectors ({DIMENSIONS} buckets) -> {args.out}")


if __name__ == "__main__":
    main()
