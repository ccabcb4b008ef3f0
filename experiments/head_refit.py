"""Whether the shipped model's projection head, refitted alone on its frozen hidden states, relates notes better.

    .venv/bin/python experiments/head_refit.py cache            # the hidden states of the training notes (resumable)
    .venv/bin/python experiments/head_refit.py fit -o runs/head-refit.gguf [--steps N --batch B ...]

The head (576 hidden values to the 128 of the embedding) was trained with the LoRA in one pass: 1,737 steps of
64 pairs. With the blocks frozen, the head alone is a linear map over fixed vectors, so it can see every link of
the 58 training collections many times over, with in-batch negatives of one collection thousands strong, in
minutes on the CPU. `cache` embeds every note of a training pair as the default reads it (title, folder line, the
first 128 content tokens) with the head left off, one file per collection under .cache/head_refit (collections in a
seeded order, so a stopped run leaves whole collections). `fit` starts from the shipped head and trains it alone on
the cached collections' pairs, one collection a step, against every note of the collection (`--negatives
collection`) or the batch's other notes (`batch`: GCL, the training's symmetric InfoNCE), the temperature learnt;
it keeps the step that scores best on the links (or, with `--dev-collections`, the whole collections) it holds
back, and writes a copy of the default GGUF with the refitted head (its tag head dropped: it lives in the old
head's space). Score that copy with `bench/heldout.py --methods "" --gguf head-refit=runs/head-refit.gguf`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "assets" / "models" / "notellm-default.gguf"
CACHE = REPO / ".cache" / "head_refit"
CONTENT_TOKENS = 128


def training_pairs(data: Path) -> dict[str, list[tuple[str, str]]]:
    """{collection: its (a, b) note ids}, from a prepared data folder's train_pairs.jsonl."""
    from notellm.training.data import read_jsonl

    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in read_jsonl(data / "train_pairs.jsonl"):
        pairs[row["a"].split("/", 1)[0]].append((row["a"], row["b"]))
    return pairs


def cache(args) -> None:
    from notellm.engine.model import NoteModel
    from notellm.engine.vault import folder_of

    from notellm.training.data import read_jsonl

    pairs = training_pairs(args.data)
    notes = {row["id"]: row for row in read_jsonl(args.data / "notes.jsonl")}
    model = NoteModel(args.model, threads=args.threads)
    model.projection, model.dimensions = None, model.hidden_size  # the hidden state, before the head
    CACHE.mkdir(parents=True, exist_ok=True)
    order = sorted(pairs)
    random.Random(0).shuffle(order)
    started, done = time.time(), 0
    for name in order:
        out = CACHE / f"{name}.npz"
        ids = sorted({note for pair in pairs[name] for note in pair if note in notes})
        if out.exists():
            done += len(ids)
            continue
        vectors = np.concatenate([
            model.embed_notes([(notes[i]["title"], notes[i]["text"], folder_of(notes[i]["path"])) for i in ids[start:start + 64]],
                              CONTENT_TOKENS)
            for start in range(0, len(ids), 64)])
        np.savez(out.with_suffix(".part.npz"), ids=np.array(ids), vectors=vectors.astype(np.float32))
        out.with_suffix(".part.npz").replace(out)
        done += len(ids)
        print(f"{name}: {len(ids)} notes; {done} in {time.time() - started:.0f} s", flush=True)
    model.close()


def cached_collections(pairs: dict[str, list[tuple[str, str]]]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(collection, its notes' unit hidden states, its (a, b) rows into them) for every cached collection."""
    out = []
    for path in sorted(CACHE.glob("*.npz")):
        if path.name.endswith(".part.npz"):
            continue
        saved = np.load(path)
        row = {note: i for i, note in enumerate(saved["ids"].tolist())}
        links = np.array([(row[a], row[b]) for a, b in pairs[path.stem] if a in row and b in row and a != b], dtype=np.int64)
        if len(links):
            out.append((path.stem, saved["vectors"], links))
    return out


def split_links(collections, dev_share: float, seed: int, by_collection: bool = False):
    """Each collection's links cut into training and development rows (a seeded `dev_share` of them), or with
    `by_collection` a seeded `dev_share` of the collections kept whole for development."""
    rng = np.random.default_rng(seed)
    train, dev = [], []
    if by_collection:
        chosen = set(rng.permutation(len(collections))[:max(1, int(round(len(collections) * dev_share)))].tolist())
        for i, (name, vectors, links) in enumerate(collections):
            (dev if i in chosen else train).append((name, vectors, links, links))
        return train, dev
    for name, vectors, links in collections:
        order = rng.permutation(len(links))
        cut = int(round(len(links) * dev_share))
        dev.append((name, vectors, links[order[:cut]], links))
        train.append((name, vectors, links[order[cut:]], links))
    return train, dev


def recall_at_10(head: np.ndarray, dev) -> float:
    """Macro Recall@10 of the development links: each link's first note ranks every other note of its collection,
    the other notes it links with left out (as a retrieval of that one partner)."""
    scores = []
    for _, vectors, rows, every_link in dev:
        if not len(rows):
            continue
        embedded = vectors @ head.T
        embedded /= np.linalg.norm(embedded, axis=1, keepdims=True)
        partners = defaultdict(set)
        for a, b in every_link:
            partners[a].add(b)
            partners[b].add(a)
        hits = 0
        for a, b in rows:
            similarity = embedded @ embedded[a]
            similarity[a] = -np.inf
            similarity[[p for p in partners[a] if p != b]] = -np.inf
            hits += int((similarity > similarity[b]).sum() < 10)
        scores.append(hits / len(rows))
    return float(np.mean(scores))


def fit(args) -> None:
    import torch
    import torch.nn.functional as F

    from notellm.engine.model import read_model_header
    from notellm.training.losses import SymmetricInfoNCELoss

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    collections = cached_collections(training_pairs(args.data))
    train, dev = split_links(collections, args.dev_share, args.seed, args.dev_collections)
    shipped = read_model_header(args.model).projection
    print(f"{len(train)} + {len(dev)} collections, {sum(len(t[2]) for t in train)} training links, "
          f"{sum(len(d[2]) for d in dev)} development links; shipped head: dev R@10 {recall_at_10(shipped, dev):.3f}", flush=True)
    head = torch.nn.Parameter(torch.tensor(shipped))
    loss_fn = SymmetricInfoNCELoss(init_log_scale=args.log_scale)
    optimiser = torch.optim.AdamW([head, loss_fn.log_scale], lr=args.lr, weight_decay=0.0)
    weights = np.array([len(t[2]) for t in train], dtype=np.float64) ** args.collection_power
    weights /= weights.sum()
    rng = np.random.default_rng(args.seed)
    tensors = [torch.tensor(t[1]) for t in train]
    best = (recall_at_10(shipped, dev), 0, shipped.copy())
    for step in range(1, args.steps + 1):
        pick = rng.choice(len(train), p=weights)
        _, _, rows, _ = train[pick]
        rows = rows[rng.choice(len(rows), size=min(args.batch, len(rows)), replace=False)]
        if args.negatives == "batch":
            anchors = F.normalize(tensors[pick][rows[:, 0]] @ head.T, dim=-1)
            positives = F.normalize(tensors[pick][rows[:, 1]] @ head.T, dim=-1)
            loss = loss_fn(anchors, positives)
        else:  # every note of the collection a candidate for each anchor
            projected = F.normalize(tensors[pick] @ head.T, dim=-1)
            scale = torch.exp(loss_fn.log_scale.clamp(max=loss_fn.max_log_scale))
            logits = scale * projected[rows[:, 0]] @ projected.T
            logits[torch.arange(len(rows)), torch.tensor(rows[:, 0])] = -torch.inf
            loss = F.cross_entropy(logits, torch.tensor(rows[:, 1]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % args.eval_every == 0 or step == args.steps:
            score = recall_at_10(head.detach().numpy(), dev)
            print(f"step {step}: loss {loss.item():.3f}, scale {loss_fn.scale:.1f}, dev R@10 {score:.3f}", flush=True)
            if score > best[0]:
                best = (score, step, head.detach().numpy().copy())
    print(f"best: step {best[1]}, dev R@10 {best[0]:.3f}", flush=True)
    if args.out:
        write_with_head(args.model, args.out, best[2])


def write_with_head(model: Path, out: Path, head: np.ndarray) -> None:
    """A copy of `model` with `head` as its projection and no tag head (it lived in the old head's space)."""
    import shutil

    from notellm.engine.gguf_metadata import PROJECTION_KEY, PROJECTION_ROWS_KEY, TAG_HEAD_TAGS_KEY, TAG_HEAD_VECTORS_KEY
    from notellm.training.delta import add_float_array, rewrite_metadata

    def add(writer) -> None:
        writer.add_uint32(PROJECTION_ROWS_KEY, int(head.shape[0]))
        add_float_array(writer, PROJECTION_KEY, head)

    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, out)
    rewrite_metadata(out, (PROJECTION_KEY, PROJECTION_ROWS_KEY, TAG_HEAD_TAGS_KEY, TAG_HEAD_VECTORS_KEY), add)
    print(f"wrote {out}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    step = commands.add_parser("cache")
    step.add_argument("--data", type=Path, default=REPO / "data" / "corpus")
    step.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    step.add_argument("--threads", type=int, default=2)
    step = commands.add_parser("fit")
    step.add_argument("--data", type=Path, default=REPO / "data" / "corpus")
    step.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    step.add_argument("-o", "--out", type=Path, default=None)
    step.add_argument("--steps", type=int, default=2000)
    step.add_argument("--batch", type=int, default=256, help="links a step, all of one collection")
    step.add_argument("--negatives", choices=("batch", "collection"), default="batch",
                      help="the batch's other notes (GCL), or every note of the collection")
    step.add_argument("--lr", type=float, default=1e-4)
    step.add_argument("--log-scale", type=float, default=3.0)
    step.add_argument("--collection-power", type=float, default=0.5, help="collections drawn by links ** this")
    step.add_argument("--dev-share", type=float, default=0.1)
    step.add_argument("--dev-collections", action="store_true", help="hold out whole collections, not links")
    step.add_argument("--eval-every", type=int, default=250)
    step.add_argument("--seed", type=int, default=0)
    step.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    {"cache": cache, "fit": fit}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
