"""How the engine's lexical match weighs a note's words: BM25 variants, scored on links with no model in the path.

    .venv/bin/python experiments/query_weighting.py [--app] [--max-notes 800] [--min-links 100]

The engine's lexical match (`engine.term_index`) is FTS5's BM25 over a note's first `MAX_QUERY_TERMS` distinct
terms, each term counting once however often the note says it. On the Chinese validation collection it finds
0.172 R@10 where the same words as tf-idf vectors find 0.330 (`experiments/lexical_teacher.py --check`), and the
difference is the weighting. This scores, for every collection, that rule and variants of it: the query's
terms weighted by how often the note says them (1 + log tf, or BM25's saturation with k3), other length
normalisations (b), and the two notes as tf-idf vectors under a cosine (`Rule`). Chosen on the training collections
(no model in the path, so they are as unseen as the validation collections), then checked on the validation
collections; macro R@10 per language. With `--app`, each rule also as the words' list of the app's ranking.

`PATCHED` is the rule `experiments/query_weighting.patch` gives the engine's `TermIndex.related` (questions keep
BM25); `git apply experiments/query_weighting.patch`, then `bench/heldout.py --methods minilm,default`, measures it
with the hashtags. Not shipped (docs/experiments.md, 2026-12-05).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


@dataclass(frozen=True)
class Rule:
    """How a query note's terms meet a row's: BM25's saturated, length-normalised tf (`k1`, `b`), or `cosine`: the
    row's (1 + log tf) × idf scaled to unit length (`norm` "tfidf"), or its (1 + log tf) alone scaled to unit length
    and idf applied at query time (`norm` "logtf", a length the row keeps however the vault's counts change). The
    query's terms count once or (1 + log tf) (`query_tf`); idf enters once or, as in a cosine of two tf-idf vectors,
    twice (`idf_power`)."""

    k1: float = 1.2
    b: float = 0.75
    query_tf: str = "one"  # "one" | "log" | "saturated" (k3 = 3)
    cosine: bool = False
    norm: str = "tfidf"  # with `cosine`: "tfidf" | "logtf"
    idf_power: int = 1


ENGINE = "BM25 (k1 1.2, b 0.75), each query term once (the engine's)"
PATCHED = "log-tf rows at unit length, idf twice at query time (the patch)"
VARIANTS = {
    ENGINE: Rule(),
    "BM25, query terms 1 + log tf": Rule(query_tf="log"),
    "BM25, query terms saturated (k3 3)": Rule(query_tf="saturated"),
    "BM25 b 1.0, query terms 1 + log tf": Rule(b=1.0, query_tf="log"),
    "BM25 k1 2.0 b 0.9, query terms 1 + log tf": Rule(k1=2.0, b=0.9, query_tf="log"),
    "tf-idf cosine (idf twice, query 1 + log tf)": Rule(query_tf="log", cosine=True, idf_power=2),
    "tf-idf cosine, query terms once": Rule(cosine=True, idf_power=2),
    PATCHED: Rule(query_tf="log", cosine=True, norm="logtf", idf_power=2),
    "log-tf rows at unit length, idf once": Rule(query_tf="log", cosine=True, norm="logtf"),
}


def lexical_scores(notes: list[dict], queries: list[int], rule: Rule) -> np.ndarray:
    """Each query note's score for every note of its collection (-inf where no term is shared) under `rule`, over the
    engine's terms and query (`engine.lexical.document`, `query_terms`) and BM25's idf (`engine.term_index`); the
    first variant (`ENGINE`) is `TermIndex.related` itself."""
    from notellm.engine.lexical import document, query_terms

    rows = [document(note["title"], note["text"]).split() for note in notes]
    occurrences = [Counter(row) for row in rows]
    document_counts = Counter(term for count in occurrences for term in count)
    vocabulary = {term: column for column, term in enumerate(document_counts)}
    lengths = np.array([len(row) for row in rows], dtype=np.float64)
    n = max(1, np.count_nonzero(lengths))  # the engine holds no row for a note without terms
    average = lengths.sum() / n
    hits = np.array([document_counts[term] for term in vocabulary], dtype=np.float64)
    idf = np.maximum(np.log((n - hits + 0.5) / (hits + 0.5)), 1e-6)
    data, indices, pointers = [], [], [0]
    for row, count in enumerate(occurrences):
        tf = np.fromiter(count.values(), dtype=np.float64, count=len(count))
        columns = [vocabulary[term] for term in count]
        if not rule.cosine:
            weight = tf * (rule.k1 + 1) / (tf + rule.k1 * (1 - rule.b + rule.b * lengths[row] / average))
        elif rule.norm == "tfidf":
            weight = (1 + np.log(tf)) * idf[columns]
            weight = weight / max(np.linalg.norm(weight), 1e-12) / idf[columns]  # idf comes back in the query
        else:
            weight = (1 + np.log(tf)) / max(np.linalg.norm(1 + np.log(tf)), 1e-12)
        data.extend(weight)
        indices.extend(columns)
        pointers.append(len(indices))
    matrix = sparse.csr_matrix((data, indices, pointers), shape=(len(notes), len(vocabulary)))
    query = sparse.lil_matrix((len(queries), len(vocabulary)))
    for position, note in enumerate(queries):
        for term in query_terms(rows[note], counts=document_counts, notes=n):
            tf = occurrences[note][term]
            weight = {"one": 1.0, "log": 1 + np.log(tf), "saturated": 4 * tf / (3 + tf)}[rule.query_tf]
            query[position, vocabulary[term]] = weight * idf[vocabulary[term]] ** rule.idf_power
    scores = (query.tocsr() @ matrix.T).toarray()
    scores[scores <= 0] = -np.inf
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-notes", type=int, default=800, help="training collections of at most this many notes")
    parser.add_argument("--min-links", type=int, default=100, help="and at least this many links")
    parser.add_argument("--app", action="store_true",
                        help="also score each rule as the words' list of the app's ranking (the folders and the named notes, "
                             "weighted by the collection's links): on the validation collections with the default's and "
                             "MiniLM's cached vectors of bench/heldout.py, on the training collections with MiniLM's")
    args = parser.parse_args()

    import heldout as bench

    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.evaluate import LexicalRanker, minilm_ranker
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.heldout import app_ranks, cosine_scores, link_metrics, link_ranks, read_collection

    key = bench.model_key(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    models = {"default": f"default-{key}", "MiniLM": "minilm-minilm"}

    _, split, validation = bench.validation_collections()
    language = {c.name: c.main_language for c in [*split.train, *split.validation]}
    training = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                for c in bench.small_training_collections(args.max_notes, args.min_links)]
    minilm = None
    for label, collections in (("training", training), ("validation", validation)):
        results: dict[str, dict[str, float]] = defaultdict(dict)
        app: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for data in collections:
            if not data.links:
                continue
            cosines = {}
            if args.app and label == "validation":
                cosines = {model: cosine_scores(np.load(bench.CACHE / folder / f"{data.name}.npz")["vectors"], data.sources)
                           for model, folder in models.items()}
            elif args.app:  # the default trained on these collections; MiniLM did not
                minilm = minilm or minilm_ranker()
                cosines = {"MiniLM": cosine_scores(bench.cached_vectors("minilm-train", "minilm", data, minilm.embed)[0], data.sources)}
            for name, rule in VARIANTS.items():
                words = lexical_scores(data.notes, data.sources, rule)
                results[name][data.name] = link_metrics(link_ranks(words, data))["R@10"]
                for model, cosine in cosines.items():
                    app[model][name][data.name] = float(np.mean(app_ranks(cosine, words, data) <= 10))
            if label == "validation":  # ENGINE must be the engine's own rule
                engine = link_metrics(link_ranks(LexicalRanker().scores(data.notes, data.sources), data))["R@10"]
                assert abs(engine - results[ENGINE][data.name]) < 0.01, (data.name, engine)
            print(f"{label} {data.name} ({language[data.name]}): "
                  + ", ".join(f"{results[name][data.name]:.3f}" for name in VARIANTS), flush=True)
        if not results:
            print(f"no {label} collections with links")
            continue
        languages = sorted({language[name] for name in results[ENGINE]})
        print(f"\n{label} ({len(results[ENGINE])} collections), macro R@10: all | "
              + " | ".join(f"{lang} ({sum(language[c] == lang for c in results[ENGINE])})" for lang in languages))
        for name in VARIANTS:
            by_language = [np.mean([v for c, v in results[name].items() if language[c] == lang]) for lang in languages]
            print(f"  {name}: {np.mean(list(results[name].values())):.3f} | " + " | ".join(f"{v:.3f}" for v in by_language))
        for model, scored in app.items():
            print(f"{label}, the app's ranking with {model}'s vectors: all | " + " | ".join(languages))
            for name in VARIANTS:
                by_language = [np.mean([v for c, v in scored[name].items() if language[c] == lang]) for lang in languages]
                print(f"  {name}: {np.mean(list(scored[name].values())):.3f} | " + " | ".join(f"{v:.3f}" for v in by_language))
        print(flush=True)


if __name__ == "__main__":
    main()
