"""Related notes when the model reads the whole note in chunks: their vectors averaged, or kept apart.

    .venv/bin/python experiments/note_chunks.py [MODEL.gguf]
    .venv/bin/python experiments/note_chunks.py --training [MODEL.gguf]   # up to 2 chunks, on training collections

The engine embeds a note's title and the first 128 tokens of its text; 88% of the validation collections'
notes are longer. Here each note's text is cut into chunks of 128 of the model's tokens (up to `CHUNKS`),
each chunk embedded with the note's title as a note of its own (the first chunk is the shipped vector), and
two notes compared in one of two ways:

- `mean K, w`: one vector a note, the first chunk's plus `w` times each later chunk's, up to K chunks
  (what the index could store as it stores one vector now);
- `multi-vector K` (chunk-level late interaction, as ColBERT does over tokens): each chunk of one note
  takes its best match among the other note's chunks, the mean over its chunks, averaged both ways;
  `best pair K`: the best-matching pair of chunks (what a vector index holding every chunk gives).

Each is scored alone, fused with the engine's lexical match at the weight the vault's links choose, and as
the app's related panel ranks (`training.heldout.engine_ranks`: + folders + named notes, weighted by links),
as `bench/heldout.py` scores a model (every link cut from every note; macro R@10 over the validation
collections), with a paired bootstrap interval of the app's ranking against the shipped one. Embeddings a note is the cost: the index would embed that many times as many prompts.
Chunk vectors are cached under .cache/heldout beside the benchmark's. `--training` screens the ways that read two
chunks on the training collections of at most 600 notes with at least 100 links instead: the model trained on their
links, so its numbers there are in-vault, but what a way of reading changes is the same model's view of the note.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

CHUNKS = 4


def chunk_vectors(model, data, key: str, tokens: int, chunks: int = CHUNKS, cache: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(vectors, present): vectors[k, i] is note i's chunk k (zero where the note is shorter), present[k, i] whether it has one."""
    import heldout as bench

    pieces = [model.tokenizer.tokenize_plain(note["text"]) for note in data.notes]
    vectors, present = [], []
    for k in range(chunks):
        texts = [model.tokenizer.detokenize(p[k * tokens:(k + 1) * tokens]).strip() if k else note["text"]
                 for note, p in zip(data.notes, pieces)]
        has = np.array([k == 0 or bool(text) for text in texts])  # the first chunk is the shipped vector, title only or not
        chunk = [{**note, "text": text} for note, text, kept in zip(data.notes, texts, has) if kept]
        view = type(data)(data.name, chunk, [])
        embed = lambda notes: model.embed_notes([(n["title"], n["text"]) for n in notes], tokens)  # noqa: E731
        found = bench.cached_vectors(("default" if k == 0 else f"chunk{k}") + cache, key, view, embed)[0]
        full = np.zeros((len(data.notes), found.shape[1]), dtype=np.float32)
        full[has] = found
        vectors.append(full / np.maximum(np.linalg.norm(full, axis=1, keepdims=True), 1e-12))
        present.append(has)
    return np.stack(vectors), np.stack(present)


def mean_scores(vectors: np.ndarray, present: np.ndarray, queries: list[int], chunks: int, weight: float) -> np.ndarray:
    from notellm.training.heldout import cosine_scores

    weights = np.array([1.0] + [weight] * (chunks - 1))[:, None, None]
    return cosine_scores((weights * vectors[:chunks] * present[:chunks, :, None]).sum(0), queries)


def interaction_scores(vectors: np.ndarray, present: np.ndarray, queries: list[int], chunks: int, best_pair: bool) -> np.ndarray:
    vectors, present = vectors[:chunks], present[:chunks]
    pairs = np.einsum("aqd,bnd->qnab", vectors[:, queries], vectors)
    mask = present[:, queries].T[:, None, :, None] & present.T[None, :, None, :]
    pairs = np.where(mask, pairs, -np.inf)
    if best_pair:
        scores = pairs.max(axis=(2, 3))
    else:
        query_side = np.where(present[:, queries].T[:, None, :], pairs.max(3), 0).sum(2) / present[:, queries].sum(0)[:, None]
        note_side = np.where(present.T[None, :, :], pairs.max(2), 0).sum(2) / present.sum(0)[None, :]
        scores = (query_side + note_side) / 2
    scores[np.arange(len(queries)), queries] = -np.inf
    return scores


def main() -> None:
    import heldout as bench

    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import engine_ranks, link_metrics, link_ranks, macro_mean, weight_from_links, weighted_ranks

    training = "--training" in sys.argv[1:]
    arguments = [argument for argument in sys.argv[1:] if argument != "--training"]
    model_path = Path(arguments[0]) if arguments else REPO / "assets" / "models" / "notellm-default.gguf"
    if training:
        from notellm.engine import fusion_weight
        from notellm.training.corpus import DEFAULT_CORPUS, extract
        from notellm.training.heldout import read_collection

        collections = [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                       for c in bench.small_training_collections(600, 100)]
        collections = [d for d in collections if len(d.sources) >= fusion_weight.MIN_SOURCES]
        languages = {d.name: "in-vault" for d in collections}
    else:
        _, split, collections = bench.validation_collections()
        languages = {c.name: c.main_language for c in split.validation}
    most = 2 if training else CHUNKS
    model = NoteModel(model_path, threads=2)
    key = bench.model_key(model_path, DEFAULT_CONTENT_TOKENS)
    chunks = {d.name: chunk_vectors(model, d, key, DEFAULT_CONTENT_TOKENS, most, "-train" if training else "") for d in collections}
    model.close()
    lexical = {d.name: LexicalRanker().scores(d.notes, d.sources) for d in collections}
    variants = {"first 128 tokens (shipped)": lambda v, p, q: mean_scores(v, p, q, 1, 0.0)}
    for count, weight in ((2, 0.5), (2, 1.0), (3, 0.5), (4, 0.5), (4, 1.0)):
        if count <= most:
            variants[f"mean {count}, w {weight}"] = lambda v, p, q, c=count, w=weight: mean_scores(v, p, q, c, w)
    for count in (2, 4):
        if count <= most:
            variants[f"multi-vector {count}"] = lambda v, p, q, c=count: interaction_scores(v, p, q, c, best_pair=False)
            variants[f"best pair {count}"] = lambda v, p, q, c=count: interaction_scores(v, p, q, c, best_pair=True)
    notes = sum(len(d.notes) for d in collections)
    cost = {k: sum(int(p[:k].sum()) for _, p in chunks.values()) / notes for k in range(1, most + 1)}
    print("embeddings a note, by chunks read: " + ", ".join(f"{k}: {c:.2f}" for k, c in cost.items()))
    names = [f"{d.name.split('__')[0]} ({languages[d.name]})" for d in collections]
    print("| chunks | alone | fused, weighted by links | the app's ranking | the app's, less the shipped (95% interval) | " + " | ".join(names) + " |")
    print("|---|---|---|---|---|" + "---|" * len(collections))
    shipped_app = None
    for label, scores_of in variants.items():
        alone, fused, app = {}, {}, {}
        for data in collections:
            scores = scores_of(*chunks[data.name], data.sources)
            alone[data.name] = link_ranks(scores, data)
            fused[data.name] = weight_from_links(weighted_ranks(scores, lexical[data.name], data), data)[0]
            app[data.name] = weight_from_links(engine_ranks(scores, lexical[data.name], data), data)[0]
        shipped_app = shipped_app or app
        macro = [macro_mean([link_metrics(r) for r in rows.values()])["R@10"] for rows in (alone, fused, app)]
        low, high = paired_interval(app, shipped_app)
        cells = " | ".join(f"{link_metrics(alone[d.name])['R@10']:.3f} / {link_metrics(app[d.name])['R@10']:.3f}" for d in collections)
        print(f"| {label} | " + " | ".join(f"{m:.3f}" for m in macro) + f" | {macro[2] - macro_mean([link_metrics(r) for r in shipped_app.values()])['R@10']:+.3f} ({low:+.3f} to {high:+.3f}) | {cells} |", flush=True)


def paired_interval(ranks: dict[str, np.ndarray], control: dict[str, np.ndarray], draws: int = 1000) -> tuple[float, float]:
    """95% interval of the macro R@10 difference, each collection's links resampled with replacement (both sides alike);
    the weights the links chose are held fixed, so it is somewhat narrow."""
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(draws):
        per = []
        for name, found in ranks.items():
            pick = rng.integers(0, len(found), len(found))
            per.append(np.mean(found[pick] <= 10) - np.mean(control[name][pick] <= 10))
        differences.append(np.mean(per))
    return tuple(np.percentile(differences, [2.5, 97.5]))

if __name__ == "__main__":
    main()
