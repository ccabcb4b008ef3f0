"""Related notes from two NoteLLM models at once: is a second 6-block model worth its cost?

    .venv/bin/python experiments/model_pairs.py NAME=MODEL.gguf [NAME=MODEL.gguf ...]

Every listed model and the shipped default are scored alone, then each pair by the mean of its two cosine
similarities (the same ranking as joining the two unit vectors into one), alone and fused with the engine's
lexical match at the weight the vault's own links choose, as `bench/heldout.py` scores one model (every link cut
from every note; macro R@10 over the validation collections). A pair costs two models' embedding time, about
what a 12-block model would; MiniLM paired with the default is the reference that no shipped pair can use.
Vectors come from the benchmark's cache (.cache/heldout), so models `bench/heldout.py --gguf NAME=…` scored are
not embedded again.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    import heldout as bench  # bench/heldout.py: the validation split, its vector cache and model key

    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.evaluate import LexicalRanker, minilm_ranker
    from notellm.training.heldout import cosine_scores, link_metrics, link_ranks, macro_mean, weight_from_links, weighted_ranks

    models = {"default": REPO / "assets" / "models" / "notellm-default.gguf"}
    models.update({name: Path(path) for name, _, path in (arg.partition("=") for arg in sys.argv[1:])})
    _, split, collections = bench.validation_collections()
    languages = {c.name: c.main_language for c in split.validation}
    every = {d.name: list(range(len(d.notes))) for d in collections}
    lexical_all = {d.name: LexicalRanker().scores(d.notes, every[d.name]) for d in collections}

    vectors = {}
    for name, path in models.items():
        model = NoteModel(path, threads=2)
        key = bench.model_key(path, DEFAULT_CONTENT_TOKENS)
        embed = lambda notes, model=model: model.embed_notes([(n["title"], n["text"]) for n in notes], DEFAULT_CONTENT_TOKENS)  # noqa: E731
        vectors[name] = {d.name: bench.cached_vectors(name, key, d, embed)[0] for d in collections}
        model.close()
    minilm = minilm_ranker()
    vectors["MiniLM"] = {d.name: bench.cached_vectors("minilm", "minilm", d, minilm.embed)[0] for d in collections}

    rankings = {(name,): name for name in vectors}
    rankings.update({pair: " + ".join(pair) for pair in itertools.combinations(models, 2)})
    rankings[("default", "MiniLM")] = "default + MiniLM (reference)"
    print("| models | macro R@10 alone | fused, weighted by links | "
          + " | ".join(d.name.split("__")[0] + f" ({languages[d.name]})" for d in collections) + " |")
    print("|---|---|---|" + "---|" * len(collections))
    for members, label in rankings.items():
        alone, fused = {}, {}
        for data in collections:
            scores = sum(cosine_scores(vectors[m][data.name], data.sources) for m in members) / len(members)
            alone[data.name] = link_metrics(link_ranks(scores, data))
            fused[data.name] = link_metrics(weight_from_links(weighted_ranks(scores, lexical_all[data.name][data.sources], data), data)[0])
        cells = " | ".join(f"{alone[d.name]['R@10']:.3f} / {fused[d.name]['R@10']:.3f}" for d in collections)
        print(f"| {label} | {macro_mean(list(alone.values()))['R@10']:.3f} | "
              f"{macro_mean(list(fused.values()))['R@10']:.3f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
