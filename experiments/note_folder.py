"""The note's folder in the model's prompt, as the paper's prompt gives a note's category: a zero-shot probe.

    .venv/bin/python experiments/note_folder.py [MODEL.gguf]
    .venv/bin/python experiments/note_folder.py --data data/corpus data/corpus-folder   # a training folder with the line

NoteLLM's Note Compression Prompt (arXiv 2403.01744, section 3.2) reads a note's title, its topic and its content.
A Markdown note's nearest thing to a category is its folder, and the app already ranks the notes filed near a
note as one of its lists (`engine.folder_ranking`), a large part of what it shows on the folder-sorted
collections. The engine's prompt gives the model the title and the text alone. This scores the shipped model, with
no training, given the folder too, written the way the note's own text would carry it:

- `folder line`: the folder's path (`engine.vault.folder_of`, " / " between its parts) as the content's first line;
- `folder in the title`: "folder / title" as the title.

A note at the vault's top reads as shipped. all-MiniLM-L6-v2 is given the folder line too (between its title and the
text), so that what the folder gives any reader of the note is told apart from what this model makes of it. Scored as
`bench/heldout.py` scores a model on the validation collections (every link cut from every note; macro R@10 alone,
fused with the lexical match weighted by the vault's links, and the app's ranking: with the folders and the named
notes), beside the shipped prompt, with a paired bootstrap interval of the app's ranking against the same reader
without the folder. Vectors are cached under .cache/heldout like the benchmark's.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from notellm.engine.prompt import readable_folder, with_folder_line  # noqa: E402  the engine's rule, probed here


def write_data(source: Path, out: Path) -> None:
    """A copy of a prepared training folder whose notes' texts start with their folder line, for a screen that trains
    the model to read it (the same pairs)."""
    from notellm.engine.vault import folder_of
    from notellm.training.data import Dataset

    data = Dataset.load(source)
    notes = {note_id: {**note, "text": with_folder_line(note["text"], folder_of(note["path"]))} for note_id, note in data.notes.items()}
    Dataset(notes, data.pairs, data.heldout, {**data.manifest, "folder_line": True}).save(out)
    print(f"{sum(bool(folder_of(n['path'])) for n in data.notes.values())} of {len(notes)} notes in a folder; wrote {out}")


def print_prompt_table(collections, languages: dict[str, str], labels, vectors_of, added: str) -> None:
    """A Markdown row per prompt variant (`labels`; `vectors_of(label, data)` its vectors of a collection): macro R@10
    alone, fused with the lexical match weighted by the vault's links, and in the app's ranking, that ranking's gain
    over the same reader's first variant (MiniLM's rows over "MiniLM", the others over the first) with a paired
    bootstrap interval, and each collection's alone / app's. `added` names what the variants add to the prompt."""
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import app_ranks, cosine_scores, link_metrics, link_ranks, macro_mean, weight_from_links, weighted_ranks
    from note_chunks import paired_interval  # experiments/, beside this script

    lexical = {d.name: LexicalRanker().scores(d.notes, d.sources) for d in collections}
    print(f"| prompt | alone | fused, weighted by links | the app's ranking | the app's, less the same reader's without "
          f"{added} (95% interval) | " + " | ".join(d.name.split("__")[0] + f" ({languages[d.name]})" for d in collections) + " |")
    print("|---|---|---|---|---|" + "---|" * len(collections))
    controls = {}
    for label in labels:
        alone, fused, app = {}, {}, {}
        for data in collections:
            scores = cosine_scores(vectors_of(label, data), data.sources)
            alone[data.name] = link_ranks(scores, data)
            fused[data.name] = weight_from_links(weighted_ranks(scores, lexical[data.name], data), data)[0]
            app[data.name] = app_ranks(scores, lexical[data.name], data)
        control = controls.setdefault("MiniLM" if label.startswith("MiniLM") else "NoteLLM", app)
        macro = [macro_mean([link_metrics(r) for r in rows.values()])["R@10"] for rows in (alone, fused, app)]
        gain = macro[2] - macro_mean([link_metrics(r) for r in control.values()])["R@10"]
        low, high = paired_interval(app, control)
        cells = " | ".join(f"{link_metrics(alone[d.name])['R@10']:.3f} / {link_metrics(app[d.name])['R@10']:.3f}" for d in collections)
        print(f"| {label} | " + " | ".join(f"{m:.3f}" for m in macro) + f" | {gain:+.3f} ({low:+.3f} to {high:+.3f}) | {cells} |", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--data"]:
        write_data(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    import heldout as bench  # bench/heldout.py: the validation split, its vector cache and model key

    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.training.evaluate import minilm_ranker
    from notellm.training.heldout import note_folders

    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "models" / "notellm-default.gguf"
    _, split, collections = bench.validation_collections()
    languages = {c.name: c.main_language for c in split.validation}
    folder_of_note = {note["id"]: folder for d in collections for note, folder in zip(d.notes, note_folders(d))}
    for d in collections:
        print(f"  {d.name}: {sum(bool(folder_of_note[n['id']]) for n in d.notes)} of {len(d.notes)} notes in a folder", flush=True)
    model = NoteModel(model_path, threads=2)
    key = bench.model_key(model_path, DEFAULT_CONTENT_TOKENS)
    minilm = minilm_ranker()

    def shipped(note, folder):
        return note["title"], note["text"]

    def folder_line(note, folder):
        return note["title"], with_folder_line(note["text"], folder)

    def folder_title(note, folder):
        return (f"{readable_folder(folder)} / {note['title']}" if folder else note["title"]), note["text"]

    variants = {"shipped": shipped, "folder line": folder_line, "folder in the title": folder_title,
                "MiniLM": shipped, "MiniLM, folder line": folder_line}

    def vectors_of(label, data):
        prompt = variants[label]
        if label.startswith("MiniLM"):
            embed = lambda notes: minilm.embed([dict(zip(("title", "text"), prompt(n, folder_of_note[n["id"]]))) for n in notes])
            return bench.cached_vectors("minilm" if label == "MiniLM" else "minilm-folder-line", "minilm", data, embed)[0]
        method = "default" if label == "shipped" else f"folder-{label}"
        embed = lambda notes: model.embed_notes([prompt(n, folder_of_note[n["id"]]) for n in notes], DEFAULT_CONTENT_TOKENS)
        return bench.cached_vectors(method, key, data, embed)[0]

    print_prompt_table(collections, languages, variants, vectors_of, "the folder")
    model.close()


if __name__ == "__main__":
    main()
