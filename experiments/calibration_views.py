"""What a vault's links should be scored on when they choose the model's weight (`engine.fusion_weight`).

    .venv/bin/python experiments/calibration_views.py assets/models/notellm-default.gguf .cache/heldout/default-<key>

In a real vault every linking note names its targets, so its text hands both rankings part of the answer.
Three ways for the engine to score its links, each choosing the weight per fold of link sources from the
other four folds (as `bench/heldout.py` does) and judged on the evaluation's own view, every link cut:
- **cut**: the linking notes embedded again and queried with their link words cut (what the engine does);
- **kept**: the vectors and lexical rows as the index holds them, link words in;
- **cut from the query only**: the index's vectors, the lexical query without the link words.

The second argument is the folder of vectors `bench/heldout.py` cached for the model (notes with their links
cut); the vectors of the notes as written are embedded here once and cached beside it (`-links-kept`).
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

import numpy as np

from notellm.engine.lexical import document
from notellm.engine.markdown import parse_note
from notellm.engine.model import NoteModel
from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
from notellm.engine.term_index import TermIndex
from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
from notellm.training.data import read_vault
from notellm.training.evaluate import LexicalRanker
from notellm.training.heldout import cosine_scores, read_collection, weight_from_links, weighted_ranks

REPO = Path(__file__).resolve().parents[1]


def lexical_scores(rows: list[str], queries: list[list[str]], sources: list[int]) -> np.ndarray:
    """BM25 of every row for each source's query, as `LexicalRanker` scores (the engine's term index)."""
    index = TermIndex.of(enumerate(rows))
    scores = np.full((len(sources), len(rows)), -np.inf, dtype=np.float32)
    for row, source in enumerate(sources):
        for position, score in index.related(queries[source], len(rows)):
            scores[row, position] = score
    return scores


def main(model_path: Path, cut_vectors: Path) -> None:
    split = split_collections(read_manifest(DEFAULT_CORPUS), SplitRule(seed=0))
    kept_cache = cut_vectors.with_name(cut_vectors.name + "-links-kept")
    kept_cache.mkdir(exist_ok=True)
    model = NoteModel(model_path, threads=2)
    totals = {"weight 1": [], "cut": [], "kept": [], "cut from the query only": []}
    for collection in split.validation:
        root = extract(DEFAULT_CORPUS, collection, REPO / ".cache" / "corpus")
        data = read_collection(root, collection.name)
        notes, sources, _ = read_vault(root)
        written = [parse_note(sources[path], PurePosixPath(path).stem) for path in sorted(notes)]
        cached = kept_cache / f"{collection.name}.npz"
        if not cached.exists():
            vectors = np.concatenate([model.embed_notes([(n.title, n.text) for n in written[i:i + 16]], DEFAULT_CONTENT_TOKENS)
                                      for i in range(0, len(written), 16)])
            np.savez(cached, vectors=vectors)
        kept_vectors = np.load(cached)["vectors"]
        cut_cosine = cosine_scores(np.load(cut_vectors / f"{collection.name}.npz")["vectors"], data.sources)
        kept_cosine = cosine_scores(kept_vectors, data.sources)
        kept_rows = [document(n.title, n.text) for n in written]
        cut_queries = [document(n["title"], n["text"]).split() for n in data.notes]
        judged = weighted_ranks(cut_cosine, LexicalRanker().scores(data.notes, data.sources), data)
        views = {"cut": judged,
                 "kept": weighted_ranks(kept_cosine, lexical_scores(kept_rows, [r.split() for r in kept_rows], data.sources), data),
                 "cut from the query only": weighted_ranks(kept_cosine, lexical_scores(kept_rows, cut_queries, data.sources), data)}
        line = [f"{collection.name}: weight 1 {np.mean(judged[1.0] <= 10):.3f}"]
        totals["weight 1"].append(np.mean(judged[1.0] <= 10))
        for name, ranks in views.items():
            fold_ranks, chosen = weight_from_links(ranks, data, judged)
            totals[name].append(np.mean(fold_ranks <= 10))
            line.append(f"{name} {np.mean(fold_ranks <= 10):.3f} {chosen}")
        print(" | ".join(line), flush=True)
    model.close()
    print("macro R@10: " + ", ".join(f"{name} {np.mean(values):.4f}" for name, values in totals.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
