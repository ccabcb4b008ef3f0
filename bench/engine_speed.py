"""Engine speed, measured against bare llama.cpp in the same process.

    .venv/bin/python bench/engine_speed.py [VAULT] [--limit N] [--out docs/engine-speed.md]

Reports: notes/s of a full reindex vs the same prompts through llama-cpp-python's own
`Llama.embed` (pipeline overhead), seconds for a no-change reindex, save-to-queryable latency
with the watcher running, and related-query latency at 100,000 vectors (synthetic vectors in a
real SQLite + USearch index). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VAULT = REPO.parent / "shared" / "data" / "jbranchaud-til"


def copy_subset(vault: Path, limit: int | None, target: Path) -> int:
    from notellm.engine.vault import scan

    files = sorted(scan(vault).files)
    if limit:
        files = files[:: max(1, len(files) // limit)][:limit]
    for relative in files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(vault / relative, target / relative)
    return len(files)


def bench_reindex(vault: Path, tokens: int) -> dict:
    import llama_cpp

    from notellm.engine import VaultIndex
    from notellm.engine.vault import Note, read_note, scan

    with VaultIndex.open(vault, content_tokens=tokens) as index:
        started = time.perf_counter()
        summary = index.reindex()
        pipeline_seconds = time.perf_counter() - started

        started = time.perf_counter()
        again = index.reindex()
        no_change_seconds = time.perf_counter() - started
        assert again.embedded == 0

        # Baseline: the same prompt strings through llama-cpp-python's own embed(), one prompt per
        # call (its fastest way on a CPU; several per call share one unified KV cache and are slower).
        notes = [n for n in (read_note(vault, f) for f in scan(vault).files.values()) if isinstance(n, Note)]
        prompts = [index.model.tokenizer.note_prompt(n.parsed.title, n.parsed.text, tokens) for n in notes]
        token_count = sum(len(index.model.tokenizer.tokenize(p)) for p in prompts)
        raw = llama_cpp.Llama(  # its best settings for one prompt at a time: a context just big enough
            model_path=str(index.model_path), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST,
            n_ctx=512, n_batch=512, n_ubatch=512, n_threads=os.cpu_count(), n_threads_batch=os.cpu_count(), verbose=False,
        )
        started = time.perf_counter()
        for prompt in prompts:
            raw.embed(prompt)
        raw_seconds = time.perf_counter() - started
        raw.close()
        return {
            "notes": summary.embedded,
            "tokens": token_count,
            "pipeline_s": pipeline_seconds,
            "raw_llama_s": raw_seconds,
            "no_change_s": no_change_seconds,
            "model": index.model_path.name,
        }


def bench_save_to_queryable(vault: Path, tokens: int, rounds: int = 5) -> list[float]:
    from notellm.engine import VaultIndex
    from notellm.engine.watcher import VaultWatcher

    latencies = []
    with VaultIndex.open(vault, content_tokens=tokens) as index:
        index.reindex()
        done = threading.Event()
        watcher = VaultWatcher(index, on_update=lambda s: done.set(), debounce=0.2)
        watcher.start()
        try:
            for round_number in range(rounds):
                done.clear()
                path = vault / f"bench-note-{round_number}.md"
                started = time.perf_counter()
                path.write_text(f"# Bench note {round_number}\n\nGit rebase, cherry-pick and reflog tricks, take {round_number}.\n")
                while True:
                    try:
                        index.related(path.name, k=3)
                        break
                    except Exception:
                        time.sleep(0.01)
                latencies.append(time.perf_counter() - started)
        finally:
            watcher.stop()
    return latencies


def bench_related_at_scale(count: int = 100_000, dimensions: int = 576, queries: int = 200) -> list[float]:
    """Related-note queries against `count` synthetic vectors stored exactly as the indexer stores them."""
    from notellm.engine import VaultIndex
    from notellm.engine.store import encode_vector

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        vault = Path(folder) / "vault"
        vault.mkdir()
        with VaultIndex.open(vault) as index:
            store = index.store
            store.set_meta("dimensions", str(dimensions))
            with store.transaction():
                for start in range(0, count, 5000):
                    vectors = rng.standard_normal((min(5000, count - start), dimensions)).astype(np.float32)
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                    store.db.conn.executemany(
                        "insert into notes(path, title, folder, tags, keywords, embedding, embedded_with) values (?, ?, '', '[]', '[]', ?, ?)",
                        [(f"n{start + i}.md", f"Note {start + i}", encode_vector(v), index.embedder_id) for i, v in enumerate(vectors)],
                    )
            started = time.perf_counter()
            index._vector_index()  # builds the USearch index from SQLite blobs
            build_seconds = time.perf_counter() - started
            latencies = []
            for i in rng.integers(0, count, queries):
                started = time.perf_counter()
                index.related(f"n{i}.md", k=10)
                latencies.append(time.perf_counter() - started)
            return [build_seconds] + latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vault", nargs="?", type=Path, default=DEFAULT_VAULT)
    parser.add_argument("--limit", type=int, default=300, help="notes to copy from the vault (0 = all)")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "engine-speed.md")
    parser.add_argument("--vectors", type=int, default=100_000, help="synthetic vectors for the query-latency part")
    args = parser.parse_args()

    os.environ["NOTELLM_HOME"] = tempfile.mkdtemp(prefix="notellm-bench-")
    with tempfile.TemporaryDirectory() as folder:
        vault = Path(folder) / "vault"
        copied = copy_subset(args.vault, args.limit or None, vault)
        print(f"copied {copied} notes from {args.vault}")
        r = bench_reindex(vault, args.tokens)
        print(r)
        saves = bench_save_to_queryable(vault, args.tokens)
        print("save->queryable", saves)
    scale = bench_related_at_scale(args.vectors)
    build, queries = scale[0], scale[1:]
    print("100k build", build, "p50", statistics.median(queries))

    rate = r["notes"] / r["pipeline_s"]
    raw_rate = r["notes"] / r["raw_llama_s"]
    lines = [
        "# Engine speed",
        "",
        f"Produced by `.venv/bin/python bench/engine_speed.py {args.vault.name} --limit {args.limit} --tokens {args.tokens}` "
        f"on {platform.machine()} with {os.cpu_count()} cores, model `{r['model']}`, {time.strftime('%Y-%m-%d')}.",
        "",
        "| measure | value | baseline in the same run | ratio |",
        "|---|---|---|---|",
        f"| full reindex of {r['notes']} notes ({r['tokens']} prompt tokens) | {rate:.2f} notes/s ({r['tokens'] / r['pipeline_s']:.0f} tok/s) "
        f"| bare llama-cpp-python `Llama.embed`, same prompts: {raw_rate:.2f} notes/s | pipeline overhead {r['pipeline_s'] / r['raw_llama_s'] - 1:+.1%} |",
        f"| no-change reindex of {r['notes']} notes | {r['no_change_s']:.2f} s | | |",
        f"| save-to-queryable with the watcher (median of {len(saves)}) | {statistics.median(saves):.2f} s | | |",
        f"| related query at {args.vectors:,} vectors, k=10 (median of {len(queries)}) | {statistics.median(queries) * 1000:.2f} ms "
        f"(p95 {sorted(queries)[int(len(queries) * 0.95)] * 1000:.2f} ms) | | |",
        f"| rebuilding USearch from SQLite at {args.vectors:,} vectors | {build:.1f} s | | |",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
