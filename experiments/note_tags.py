"""The note's own tags in the model's prompt, as the paper's prompt gives a note's topic: a zero-shot probe.

    .venv/bin/python experiments/note_tags.py [MODEL.gguf]

NoteLLM's Note Compression Prompt (arXiv 2403.01744, section 3.2) reads a note's title, its topic and its content; the
engine's prompt gives the model the title, the folder (for a model with the folder-line trait) and the text. A Markdown
note's frontmatter tags are cut from that text (`engine.markdown.parse_note`); inline #tags stay in it. This scores the
shipped model, with no training, given the note's tags too (`note["tags"]`: frontmatter and inline, as the engine
reads them), on a line before its text:

- `tags line`: "#a #b" (as the note writes them);
- `tags as words`: "a, b", each tag's separators as spaces.

A note without tags reads as shipped. all-MiniLM-L6-v2 is given the tags line too (between its title and the text),
so that what the tags give any reader of the note is told apart from what this model makes of it. Scored as
`bench/heldout.py` scores a model on the validation collections (every link cut from every note; macro R@10 alone,
fused with the lexical match weighted by the vault's links, and the app's ranking), beside the shipped prompt, with a
paired bootstrap interval of the app's ranking against the same reader without the tags. Vectors are cached under
.cache/heldout like the benchmark's.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def tags_line(tags: list[str]) -> str:
    return " ".join(f"#{tag}" for tag in tags)


def tags_words(tags: list[str]) -> str:
    return ", ".join(re.sub(r"[-_/]+", " ", tag) for tag in tags)


def main() -> None:
    import heldout as bench  # bench/heldout.py: the validation split, its vector cache and model key

    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
    from notellm.engine.vault import folder_of
    from notellm.training.evaluate import minilm_ranker
    from note_folder import print_prompt_table  # experiments/, beside this script

    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "models" / "notellm-default.gguf"
    _, split, collections = bench.validation_collections()
    languages = {c.name: c.main_language for c in split.validation}
    for d in collections:
        print(f"  {d.name}: {sum(bool(n['tags']) for n in d.notes)} of {len(d.notes)} notes tagged", flush=True)
    model = NoteModel(model_path, threads=2)
    key = bench.model_key(model_path, DEFAULT_CONTENT_TOKENS)
    minilm = minilm_ranker()

    def with_line(line):
        return lambda note: f"{line(note['tags'])}\n\n{note['text']}" if note["tags"] else note["text"]

    texts = {"shipped": lambda note: note["text"], "tags line": with_line(tags_line), "tags as words": with_line(tags_words),
             "MiniLM": lambda note: note["text"], "MiniLM, tags line": with_line(tags_line)}

    def vectors_of(label, data):
        text = texts[label]
        if label.startswith("MiniLM"):
            embed = lambda notes: minilm.embed([{"title": n["title"], "text": text(n)} for n in notes])  # noqa: E731
            return bench.cached_vectors("minilm" if label == "MiniLM" else "minilm-tags-line", "minilm", data, embed)[0]
        method = "default" if label == "shipped" else f"tags-{label.replace(' ', '-')}"
        embed = lambda notes: model.embed_notes([(n["title"], text(n), folder_of(n["path"])) for n in notes], DEFAULT_CONTENT_TOKENS)  # noqa: E731
        return bench.cached_vectors(method, key, data, embed)[0]

    print_prompt_table(collections, languages, texts, vectors_of, "the tags")
    model.close()


if __name__ == "__main__":
    main()
