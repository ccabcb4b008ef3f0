"""Scale benchmark: a 10,000-note vault built from ../shared/corpus, indexed by the engine, in one run.

    .venv/bin/python bench/scale.py                     # 10,000 notes, the default model, 128 content tokens
    .venv/bin/python bench/scale.py --notes 500 --bare-sample 100 --out /tmp/speed.md   # a quick try

Each part runs in its own fresh Python process, so its peak RSS is its own (os.wait4), and the parts
run one after another (two llama.cpp processes on the same cores slow each other several-fold):

- `minilm`: all-MiniLM-L6-v2 (sentence-transformers, batches of 32) over the same notes' title + text:
  the baseline of the cold-index ratio;
- `reindex`: a cold `VaultIndex.reindex()` of the whole vault (scan, parse, embed, SQLite, USearch);
- `noop`: the same reindex again with nothing changed;
- `related`: `related()` latency over the real vectors, ranked by the vault's map (`engine.vault_map`; one is
  written in for the timing where the vault's links kept none), and with the folders and the named notes left
  out (`fuse_folders`, `fuse_mentions`: the model and the shared words alone);
- `tags`: `suggest_tags()` latency (nothing cached) over the real vectors, and the model's tag head alone;
- `lexical`: the lexical half of `related()` alone (BM25 in memory), on the listed notes;
- `bare`: llama-cpp-python's own `Llama.embed`, one prompt per call, over an evenly spaced sample of the
  same prompts (pipeline overhead, compared per prompt token);
- `app`: the app (offscreen) opens the vault with an empty index, so a full index runs; notes are
  saved meanwhile and timed until `related()` answers for them; its peak RSS is the app's;
- `synthetic`: `related()` latency over 100,000 random unit vectors in a real index, each note with a real note's words,
  without a vault map and with one (a random map written in for the timing).

Not a test: the numbers depend on the machine. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notellm.engine.vault import read_notes

REPO = Path(__file__).resolve().parents[1]
SAVES = 5
BETWEEN_SAVES_SECONDS = 5.0


# --- the vault --------------------------------------------------------------------------------------
def build_vault(target: Path, notes: int, seed: int = 0) -> list[str]:
    """Whole corpus collections in a seeded order, until `notes` notes (the last one cut); returns their names."""
    from notellm.engine.vault import scan
    from notellm.training.corpus import DEFAULT_CORPUS, extract, read_manifest

    collections = read_manifest(DEFAULT_CORPUS)
    random.Random(seed).shuffle(collections)
    cache = REPO / ".cache" / "corpus"
    taken, names = 0, []
    for collection in collections:
        source = extract(DEFAULT_CORPUS, collection, cache)
        files = sorted(scan(source).files.values(), key=lambda file: file.path)[: notes - taken]
        for file in files:
            destination = target / collection.name / file.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / file.path, destination)  # keeps mtimes: recent-first order is the real one
        taken += len(files)
        names.append(collection.name)
        if taken >= notes:
            break
    return names


# --- the parts, each in a child process --------------------------------------------------------------
def part_minilm(vault: Path, args) -> dict:
    import torch

    from notellm.training.evaluate import minilm_ranker

    torch.set_num_threads(args.threads)
    notes = [{"title": note.parsed.title, "text": note.parsed.text} for note in read_notes(vault)]
    ranker = minilm_ranker()
    ranker.embed(notes[:32])  # warm up
    started = time.perf_counter()
    ranker.embed(notes)
    return {"notes": len(notes), "seconds": time.perf_counter() - started}


def part_reindex(vault: Path, args) -> dict:
    from notellm.engine import VaultIndex

    started = time.perf_counter()
    with VaultIndex.open(vault, content_tokens=args.tokens, threads=args.threads) as index:
        summary = index.reindex()
        # `summary.seconds` is the indexing alone; the rest of the run is mostly choosing the model's weight
        # from the vault's links (engine/fusion_weight.py), which `ranking` reports.
        return {"notes": summary.embedded, "seconds": time.perf_counter() - started, "model": index.model_path.name,
                "indexing_seconds": summary.seconds, "ranking": summary.ranking}


def part_noop(vault: Path, args) -> dict:
    from notellm.engine import VaultIndex

    started = time.perf_counter()
    with VaultIndex.open(vault, content_tokens=args.tokens, threads=args.threads) as index:
        summary = index.reindex()
        return {"embedded": summary.embedded, "seconds": time.perf_counter() - started}


def query_latencies(index, paths: list[str], queries: int = 200) -> list[float]:
    rng = random.Random(0)
    index.related(paths[0], k=10)  # loads the vector index
    latencies = []
    for path in rng.choices(paths, k=queries):
        started = time.perf_counter()
        index.related(path, k=10)
        latencies.append(time.perf_counter() - started)
    return latencies


def part_related(vault: Path, args) -> dict:
    from notellm.engine import VaultIndex

    with VaultIndex.open(vault, content_tokens=args.tokens, threads=args.threads) as index:
        paths = [row.path for row in index.notes() if row.indexed]  # a skipped file (an empty note) has no vector
        latencies = query_latencies(index, paths)
        ranking = index.status().ranking
        mapped = mapped_latencies(index, paths)
        index.fuse_folders = index.fuse_mentions = False
        return {"vectors": len(paths), "latencies": latencies, "pair_only": query_latencies(index, paths),
                "ranking": ranking, **mapped}


def mapped_latencies(index, paths: list[str]) -> dict:
    """`related()` as it ranks in a vault that keeps its map (`engine.vault_map`): the vault's own map where its
    links kept one, else, for the timing alone, the map fitted to its links (every map of the vectors' width costs
    the same)."""
    import json

    from notellm.engine import fusion_weight, vault_map

    chosen = json.loads(index.store.get_meta(fusion_weight.META_KEY))
    if chosen.get("mapped"):
        matrix = vault_map.decode(index.store.get_meta(vault_map.META_KEY))
    else:
        ids, vectors = index.store.ids_and_embeddings(index.vectors.dimensions)
        row_of = {int(note_id): row for row, note_id in enumerate(ids)}
        targets = index.store.link_targets()
        matrix = vault_map.fit(vectors, [vault_map.Example(row_of[source], vectors[row_of[source]], frozenset(row_of[t] for t in linked if t in row_of))
                                         for source, linked in sorted(targets.items())[:fusion_weight.MAX_SOURCES] if source in row_of])
    return {**latencies_with_map(index, paths, {**chosen, "mapped": True}, matrix), "map_kept": bool(chosen.get("mapped"))}


def latencies_with_map(index, paths: list[str], choice: dict, matrix) -> dict:
    """`related()` latencies with `choice` (a `fusion_weight.Calibration` as a dict, one that keeps a map) and the
    map `matrix` written into the index, and the index's own put back afterwards. The first query maps every vector
    read from SQLite: timed apart."""
    import json

    from notellm.engine import fusion_weight, vault_map

    kept = {key: index.store.get_meta(key) for key in (fusion_weight.META_KEY, vault_map.META_KEY)}
    with index.store.transaction():
        index.store.set_meta(fusion_weight.META_KEY, json.dumps(choice))
        index.store.set_meta(vault_map.META_KEY, vault_map.encode(matrix))
    try:
        started = time.perf_counter()
        index.related(paths[0], k=10)
        first = time.perf_counter() - started
        return {"mapped": query_latencies(index, paths), "mapped_first_seconds": first}
    finally:
        with index.store.transaction():
            for key, text in kept.items():
                if text is None:
                    index.store.delete_meta(key)
                else:
                    index.store.set_meta(key, text)


def part_tags(vault: Path, args) -> dict:
    """Hashtags for the note on screen over the real index: `suggest_tags` with nothing cached, as the app
    asks it when a note opens, and the model's tag head alone (the vault's vectors read, then ranked), the
    step an untagged vault takes for every note. The app loads the model and the vault's terms when it opens
    a vault (`warm_up`), timed apart."""
    from notellm.engine import VaultIndex

    with VaultIndex.open(vault, content_tokens=args.tokens, threads=args.threads) as index:
        paths = [row.path for row in index.notes() if row.indexed]
        sample = random.Random(0).choices(paths, k=100)
        started = time.perf_counter()
        index.warm_up()
        warm_up = time.perf_counter() - started
        latencies, head_latencies = [], []
        for path in sample:
            started = time.perf_counter()
            index.suggest_tags(path, refresh=True)
            latencies.append(time.perf_counter() - started)
        head = index.model.tag_head
        for path in sample if head is not None else []:
            embedding = index.store.embedding_of(index.note(path).id)
            started = time.perf_counter()
            head.rank(embedding, index.store.embeddings(len(embedding)), 3)
            head_latencies.append(time.perf_counter() - started)
        return {"vectors": len(paths), "warm_up_seconds": warm_up, "latencies": latencies, "head_latencies": head_latencies}


def part_lexical(vault: Path, args) -> dict:
    """The lexical half of `related` alone: the note's query (common terms left out) scored by BM25 in
    memory. Needs only the notes listed, not embedded, so it runs without this run's reindex."""
    from notellm.engine import VaultIndex
    from notellm.engine.store import Store

    with VaultIndex.open(vault, content_tokens=args.tokens, threads=args.threads) as index:
        if not index.notes():  # list every note and its terms, and stop where embedding would begin
            embedding = []
            index.reindex(progress=lambda done, total: embedding.append(total), should_stop=lambda: bool(embedding))
        index.store.terms_path.unlink(missing_ok=True)
        with Store(index.store.path) as store:  # the first open: every row read, and a copy saved
            started = time.perf_counter()
            notes = store.term_index().rows
            terms_seconds = time.perf_counter() - started
        with Store(index.store.path) as store:  # a later open, e.g. the next CLI command: the copy loaded
            started = time.perf_counter()
            assert store.term_index().rows == notes
            saved_terms_seconds = time.perf_counter() - started
        rows = [row for row in index.notes() if not row.skip_reason]
        latencies = []
        for row in random.Random(0).choices(rows, k=200):
            started = time.perf_counter()
            index._lexical_ranking(index._query_terms(row), 101)  # what related() asks, as it asks it
            latencies.append(time.perf_counter() - started)
        return {"notes": notes, "terms_seconds": terms_seconds, "saved_terms_seconds": saved_terms_seconds, "latencies": latencies}


def saved_terms_seconds(lexical_part: dict) -> str:
    seconds = lexical_part.get("saved_terms_seconds")  # results.json from before the copy was saved lack it
    return f"their saved copy loaded in {seconds:.2f} s" if seconds is not None else "no saved copy measured"


def part_bare(vault: Path, args) -> dict:
    import llama_cpp

    from notellm.engine import cpu_kernels
    from notellm.engine.config import resolve_model
    from notellm.engine.model import model_traits
    from notellm.engine.prompt import llama_prompt_tokenizer

    notes = sorted(read_notes(vault), key=lambda note: note.path)
    sample = notes[:: max(1, len(notes) // args.bare_sample)][: args.bare_sample]
    model = resolve_model(None)
    cpu_kernels.load()  # the same kernels the engine runs, on a build with one library per instruction set
    llama = llama_cpp.Llama(  # its best settings for one prompt at a time: a context just big enough
        model_path=str(model), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST,
        n_ctx=512, n_batch=512, n_ubatch=512, n_threads=args.threads, n_threads_batch=args.threads, verbose=False,
    )
    traits = model_traits(model)
    tokenizer = llama_prompt_tokenizer(llama, traits.keyword_line, traits.folder_line)  # the engine's prompts
    prompts = [tokenizer.note_prompt(note.parsed.title, note.parsed.text, args.tokens, note.folder) for note in sample]
    tokens = sum(len(tokenizer.tokenize(prompt)) for prompt in prompts)
    started = time.perf_counter()
    for prompt in prompts:
        llama.embed(prompt)
    seconds = time.perf_counter() - started
    llama.close()
    return {"notes": len(prompts), "tokens": tokens, "seconds": seconds}


def part_prompt_tokens(vault: Path, args) -> dict:
    """Prompt tokens of every note, as the engine builds them (to compare with the bare sample per token)."""
    from notellm.engine.config import resolve_model
    from notellm.engine.model import NoteModel

    model = NoteModel(resolve_model(None), threads=1, content_tokens=args.tokens)
    notes = read_notes(vault)
    tokens = sum(len(model.prompt_ids(note.parsed.title, note.parsed.text, args.tokens)) for note in notes)
    model.close()
    return {"notes": len(notes), "tokens": tokens}


def part_app(vault: Path, args) -> dict:
    """Open the vault in the app with an empty index; while it indexes, save notes and time them to queryable."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from notellm.app.main import create_window

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("index/content_tokens", args.tokens)
    window = create_window(str(vault), settings, "light")
    window.show()
    session = window.session

    def spin(seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.005)

    spin(args.app_warmup)  # the full index is under way
    latencies, indexing = [], []
    for round_number in range(SAVES):
        if round_number:
            spin(BETWEEN_SAVES_SECONDS)  # the index resumes after each save: every save meets a running index
        indexing.append(session.run.state == "indexing")
        path = f"bench-saved-{round_number}.md"
        answered = []
        started = time.perf_counter()
        (vault / path).write_text(f"# Saved note {round_number}\n\nWritten while the vault indexes, round {round_number}.\n")
        while not answered and time.perf_counter() - started < 120:
            asked = []
            session.related(path, 5, False, lambda notes: answered.append(notes), lambda error: asked.append(error))
            while not answered and not asked and time.perf_counter() - started < 120:
                spin(0.01)
        latencies.append(time.perf_counter() - started if answered else float("inf"))
    window.close()
    spin(1.0)
    return {"save_to_queryable": latencies, "indexing_at_each_save": indexing}


def part_synthetic(vault: Path, args) -> dict:
    """`related()` against random unit vectors stored exactly as the indexer stores them, each note with the
    lexical row of one of the vault's real notes (its rows repeated to fill `--vectors`, so a query's terms
    match about ten times the rows they match at 10,000 notes)."""
    import numpy as np

    from notellm.engine import VaultIndex, lexical
    from notellm.engine.store import encode_vector

    rows = [lexical.document(note.parsed.title, note.parsed.text) for note in read_notes(vault)]

    rng = np.random.default_rng(0)
    dimensions = 128  # the shipped model's projection
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "vault"
        empty.mkdir()
        with VaultIndex.open(empty) as index:
            store = index.store
            store.set_meta("dimensions", str(dimensions))
            store.set_embedder(index.embedder_id, str(index.model_path))  # as a reindex records it: reads check it
            with store.transaction():
                for start in range(0, args.vectors, 5000):
                    vectors = rng.standard_normal((min(5000, args.vectors - start), dimensions)).astype(np.float32)
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                    store.db.conn.executemany(  # a benchmark's shortcut: rows without files behind them
                        "insert into notes(path, title, folder, tags, embedding, embedded_with) values (?, ?, '', '[]', ?, ?)",
                        [(f"n{start + i}.md", f"Note {start + i}", encode_vector(v), index.embedder_id) for i, v in enumerate(vectors)],
                    )
                ids = [note_id for (note_id,) in store.db.execute("select id from notes order by id")]
                store.db.conn.executemany("insert into lexical(rowid, body) values (?, ?)",
                                          [(note_id, rows[i % len(rows)]) for i, note_id in enumerate(ids)])
            paths = [f"n{i}.md" for i in range(args.vectors)]
            latencies = query_latencies(index, paths)
            return {"vectors": args.vectors, "latencies": latencies, **synthetic_mapped_latencies(index, paths, rng)}


def synthetic_mapped_latencies(index, paths: list[str], rng) -> dict:
    """`related()` over the synthetic vectors ranked by a vault map (`engine.vault_map`): the synthetic vault has no
    links to fit one to, so a random map near the identity is written in with a choice that keeps it (every map of
    the vectors' width costs the same)."""
    import numpy as np

    from notellm.engine import fusion_weight

    dimensions = index.vectors.dimensions
    matrix = np.eye(dimensions, dtype=np.float32) + 0.05 * rng.standard_normal((dimensions, dimensions)).astype(np.float32)
    choice = fusion_weight.Calibration(fusion_weight.UNCHOSEN, fusion_weight.MIN_SOURCES, fusion_weight.MIN_SOURCES,
                                       embedder=index.store.embedder(), mapped=True)
    return latencies_with_map(index, paths, choice.as_dict(), matrix)


def sample_notes(vault: Path, count: int = 64) -> list[tuple[str, str, str]]:
    """(title, text, folder) of `count` notes spread over the vault, the same ones on every call."""
    notes = sorted(read_notes(vault), key=lambda note: note.path)[::97][:count]
    return [note.prompt_fields for note in notes]


def notes_per_second(model_path: Path, threads: int, notes: list[tuple[str, str, str]], tokens: int) -> float:
    from notellm.engine.model import NoteModel

    model = NoteModel(model_path, threads=threads, content_tokens=tokens)
    try:
        model.embed_notes(notes[:8], tokens)  # warm up
        started = time.perf_counter()
        model.embed_notes(notes, tokens)
        return len(notes) / (time.perf_counter() - started)
    finally:
        model.close()


def part_threads(vault: Path, args) -> dict:
    """Notes per second of the engine's model at each thread count, on the same 64 notes."""
    from notellm.engine.config import resolve_model

    notes = sample_notes(vault)
    threads = sorted({1, args.threads, os.cpu_count() or 1})
    return {"notes_per_second": {count: notes_per_second(resolve_model(None), count, notes, args.tokens) for count in threads}}


def part_formats(vault: Path, args) -> dict:
    """Notes per second of the default model stored as F16 (as shipped), Q8_0 and Q4_K_M, on the same 64 notes."""
    from notellm.engine.config import resolve_model
    from notellm.training.delta import quantize

    notes = sample_notes(vault)
    shipped = resolve_model(None)
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in ("f16", "q8_0", "q4_k_m"):
            path = shipped if name == "f16" else quantize(shipped, Path(folder) / f"{name}.gguf", name, args.threads)
            rates[name] = notes_per_second(path, args.threads, notes, args.tokens)
    return {"notes_per_second": rates}


PARTS = {name[len("part_"):]: fn for name, fn in globals().items() if name.startswith("part_")}


def run_part(name: str, vault: Path, home: Path, args) -> dict:
    """Run one part in a fresh interpreter; its result, wall time and peak RSS (MiB)."""
    command = [sys.executable, __file__, "--part", name, "--vault", str(vault), "--tokens", str(args.tokens),
               "--threads", str(args.threads), "--bare-sample", str(args.bare_sample), "--app-warmup", str(args.app_warmup),
               "--vectors", str(args.vectors)]
    environment = dict(os.environ, NOTELLM_HOME=str(home))
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    with tempfile.TemporaryFile() as output:
        child = subprocess.Popen(command, stdout=output, env=environment)
        _, status, usage = os.wait4(child.pid, 0)
        output.seek(0)
        text = output.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"part {name} failed: {text[-2000:]}")
    result = json.loads(text.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    print(f"  {json.dumps({k: v for k, v in result.items() if k != 'latencies'})}", flush=True)
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def latency(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f} ms"


def report(results: dict, args, collections: list[str], reused: list[str]) -> str:
    def row(label: str, parts: tuple[str, ...], render) -> str:
        """A table row from the parts it needs, or `not measured` where one of them did not run."""
        if all(part in results for part in parts):
            return render(*(results[part] for part in parts))
        return f"| {label} | not measured in this run | | |"

    def mapped_row(name: str, what, baseline: str) -> list[str]:
        """The row of a part's `related` ranked by a vault map (`latencies_with_map`), where the part timed it."""
        part = results.get(name, {})
        if "mapped" not in part:
            return []
        return [f"| `related` at {what(part)}, k=10 | {latency(part['mapped'])}; the first query, which maps the vectors, "
                f"{part['mapped_first_seconds'] * 1000:.0f} ms | {baseline}: {latency(part['latencies'])} | "
                f"**{percentile(part['mapped'], 0.95) / percentile(part['latencies'], 0.95):.2f}× at p95** |"]

    def cold_index(cold, minilm) -> str:
        return (f"| cold index of {cold['notes']:,} notes | {cold['seconds'] / 60:.1f} min ({cold['notes'] / cold['seconds']:.2f} notes/s) "
                f"| all-MiniLM-L6-v2 on the same notes: {minilm['seconds'] / 60:.1f} min ({minilm['notes'] / minilm['seconds']:.1f} notes/s) "
                f"| **{cold['seconds'] / minilm['seconds']:.1f}× MiniLM's time** |")

    def pipeline(cold, tokens, bare) -> str:
        pipeline_tok_s, bare_tok_s = tokens["tokens"] / cold["seconds"], bare["tokens"] / bare["seconds"]
        return (f"| pipeline vs bare llama.cpp, per prompt token | {pipeline_tok_s:.0f} tok/s ({tokens['tokens']:,} prompt tokens) "
                f"| `Llama.embed`, one prompt per call, {bare['notes']} evenly spaced notes: {bare_tok_s:.0f} tok/s "
                f"| pipeline at {pipeline_tok_s / bare_tok_s:.0%} of bare |")

    def hashtags(tags) -> str:
        head = (f"; the model's tag head alone (the vault's vectors read and ranked): {latency(tags['head_latencies'])}"
                if tags.get("head_latencies") else "")
        return (f"| hashtags for the note on screen at {tags['vectors']:,} real vectors (`suggest_tags`, nothing cached, 100 notes) "
                f"| {latency(tags['latencies'])}, max {max(tags['latencies']) * 1000:.0f} ms{head}; before the first, the model and "
                f"the vault's terms loaded (`warm_up`, as the app does on opening a vault) in {tags['warm_up_seconds']:.2f} s | | |")

    def lexical_half(part) -> str:
        return (f"| the lexical half of `related` at {part['notes']:,} notes (BM25 in memory, 200 notes) | {latency(part['latencies'])}; "
                f"terms read from the rows in {part['terms_seconds']:.2f} s, {saved_terms_seconds(part)} | | |")

    def saves(app) -> str:
        times = app["save_to_queryable"]
        return (f"| save-to-queryable in the app while its full index runs ({len(times)} saves; the index was running at "
                f"{sum(app.get('indexing_at_each_save', []))} of them) | median {statistics.median(times):.2f} s, max {max(times):.2f} s | | |")

    def rates(part) -> str:
        return ", ".join(f"{name.upper() if not name.isdigit() else name + ' thread' + 's' * (name != '1')}: {rate:.2f}"
                         for name, rate in part["notes_per_second"].items())

    cold = results.get("reindex", {})
    return "\n".join([
        "# Engine speed",
        "",
        f"Produced by `.venv/bin/python bench/scale.py --notes {args.notes} --bare-sample {args.bare_sample}` on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {args.threads} threads, model `{cold.get('model', 'notellm-default.gguf')}` (the shipped default), "
        f"{args.tokens} content tokens, {time.strftime('%Y-%m-%d')}: {cold.get('notes', args.notes):,} notes from {len(collections)} "
        "collections of `../shared/corpus`, each part in its own process, one after another."
        + (f" The parts {', '.join(reused)} were measured by an earlier run with the same settings on the same vault "
           "(kept in `--results`)." if reused else ""),
        "",
        "| measure | value | baseline in the same run | ratio |",
        "|---|---|---|---|",
        row("cold index", ("reindex", "minilm"), cold_index),
        row("pipeline vs bare llama.cpp, per prompt token", ("reindex", "prompt_tokens", "bare"), pipeline),
        row("no-change reindex", ("noop", "reindex"), lambda noop, cold: f"| no-change reindex of {cold['notes']:,} notes | {noop['seconds']:.1f} s | | |"),
        row("`related` at the real vectors", ("related",),
            lambda related: f"| `related` at {related['vectors']:,} real vectors, k=10 | {latency(related['latencies'])} | "
                            + (f"the folders and named notes left out: {latency(related['pair_only'])} | "
                               f"**{percentile(related['latencies'], 0.95) / percentile(related['pair_only'], 0.95):.2f}× at p95** |"
                               if "pair_only" in related else "| |")),
        *mapped_row("related", lambda part: f"{part['vectors']:,} real vectors ranked by the vault's map (`engine.vault_map`; "
                    + ("the vault's own" if part["map_kept"] else "its links kept none: a map fitted to them written in for the timing") + ")",
                    "as the vault ranks"),
        row("hashtags for the note on screen", ("tags",), hashtags),
        row("the lexical half of `related`", ("lexical",), lexical_half),
        row("`related` at synthetic vectors", ("synthetic",), lambda synthetic: (
            f"| `related` at {synthetic['vectors']:,} synthetic vectors with real notes' words, k=10 | {latency(synthetic['latencies'])} | | |")),
        *mapped_row("synthetic", lambda part: f"{part['vectors']:,} synthetic vectors ranked by a vault map (a random one written in for the timing)",
                    "without a map"),
        row("save-to-queryable in the app while its full index runs", ("app",), saves),
        row("peak RSS, cold `reindex`", ("reindex",), lambda cold: f"| peak RSS, cold `reindex` | {cold['peak_rss_mib']:.0f} MiB | | |"),
        row("peak RSS, the app with the vault open while it indexes", ("app",),
            lambda app: f"| peak RSS, the app with the vault open while it indexes | {app['peak_rss_mib']:.0f} MiB | | |"),
        row("the model alone, notes/s by thread count (64 notes)", ("threads",),
            lambda part: f"| the model alone, notes/s by thread count (64 notes) | {rates(part)} | | |"),
        row("the model alone, notes/s by stored weights (64 notes)", ("formats",),
            lambda part: f"| the model alone, notes/s by stored weights (64 notes) | {rates(part)} | | |"),
        "",
        "- The cold index counts everything from opening the vault: scanning, reading and parsing the notes,",
        "  loading the model, tokenizing, embedding, SQLite writes, the lexical table, USearch and the links.",
        "  MiniLM's time is its encoding alone (model loaded, batches of 32), so the ratio is not flattering.",
        "- The bare baseline is llama-cpp-python's own `Llama.embed`, one prompt per call with a 512-token",
        "  context (its fastest setting for one prompt), on a sample; both sides are compared per prompt token.",
        "  The pipeline decodes up to eight notes per call (as many as fit `BATCH_SECONDS`), each in its own KV stream, and decodes the prompt's shared",
        "  head once per model load (`engine/llama_batch_embedder.py`); the bare call decodes every token.",
        "- The no-change reindex opens the index and stats every file; nothing is read or embedded.",
        "- Synthetic vectors: real SQLite rows and a real USearch index of random unit vectors of the shipped",
        "  model's width (128); each note's lexical row is a real note's from the vault, its rows repeated to fill them,",
        "  so a query's terms match about ten times as many rows as in the 10,000-note vault.",
        f"- Save-to-queryable: the app (offscreen) opens a copy of the vault with an empty index; after {args.app_warmup:.0f} s",
        f"  of indexing a new note is written and `related()` is asked through the app's session until it answers; {SAVES} saves,",
        f"  {BETWEEN_SAVES_SECONDS:.0f} s apart so that the index has resumed before each. The watcher's sync outranks indexing on the engine thread.",
        "",
    ])


ORDER = ["threads", "formats", "minilm", "prompt_tokens", "reindex", "noop", "related", "tags", "lexical", "bare", "synthetic"]


def settings(args) -> dict:
    """What makes two runs' parts comparable: the same vault, model budget and threads."""
    return {"notes": args.notes, "tokens": args.tokens, "threads": args.threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--tokens", type=int, default=128, help="content tokens per note (the shipped budget)")
    parser.add_argument("--threads", type=int, default=None, help="default: the engine's choice (physical cores)")
    parser.add_argument("--bare-sample", type=int, default=1000, help="notes for the bare llama.cpp baseline")
    parser.add_argument("--app-warmup", type=float, default=30.0, help="seconds of app indexing before the saves")
    parser.add_argument("--vectors", type=int, default=100_000, help="synthetic vectors for the query-latency part")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "engine-speed.md", help="the page it writes")
    parser.add_argument("--parts", default=",".join(ORDER + ["app"]), help="comma-separated parts to run (default: all)")
    parser.add_argument("--results", type=Path, default=REPO / ".cache" / "scale" / "results.json",
                        help="each part's result is kept here, so a run of some parts completes an earlier one")
    parser.add_argument("--part", choices=sorted(PARTS), help=argparse.SUPPRESS)
    parser.add_argument("--vault", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads is None:
        from notellm.engine.cpu import physical_cores

        args.threads = physical_cores()
    if args.part:
        print(json.dumps(PARTS[args.part](args.vault, args)))
        return

    with tempfile.TemporaryDirectory(prefix="notellm-scale-") as folder:
        vault, app_vault = Path(folder) / "vault", Path(folder) / "app-vault"
        collections = build_vault(vault, args.notes)
        shutil.copytree(vault, app_vault, copy_function=shutil.copy2)
        print(f"vault: {sum(1 for _ in vault.rglob('*.md'))} files from {len(collections)} collections", flush=True)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        saved = json.loads(args.results.read_text()) if args.results.exists() else {}
        results = {name: saved[name] for name in saved if saved[name].get("settings") == settings(args)}
        reused = set(results)
        for name in [part for part in ORDER + ["app"] if part in args.parts.split(",")]:
            if name in ("related", "tags") and "reindex" not in args.parts.split(","):
                continue  # they need this run's index
            app = name == "app"  # the app indexes its own copy of the vault, from an empty index
            results[name] = run_part(name, app_vault if app else vault, Path(folder) / ("app-home" if app else "home"), args)
            results[name]["settings"] = settings(args)
            reused.discard(name)
            args.results.write_text(json.dumps(results, indent=1))
    page = report(results, args, collections, sorted(reused))
    print(page)
    args.out.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    main()
