"""What of a note the model reads within its token budget: its first tokens, or a summary of the whole note first.

    .venv/bin/python experiments/note_content.py [MODEL.gguf [VARIANT,VARIANT...]]

The engine gives the model a note's title and the first 128 tokens of its text, so a long note's later sections
never reach the embedding, while the lexical match reads every word. Two ways to put the whole note in view at the
same budget, each before the text as the engine reads it (which the budget then cuts shorter):

- `outline`: the note's headings (levels 2-6, and a level-1 heading that is not the title), joined by " · ";
- `keywords`: the note's 8 most frequent content words (`engine.prompt.with_keyword_line`, title words twice): the words
  the lexical match weighs, but from the note alone, so a note's embedding does not depend on the rest of the vault;
  `keywords-N` the same with N words, `keywords as #tags` the 8 written as hashtags.

A third way reads more of the note at twice the cost: `two chunks`, the note's next 128 tokens embedded as a note
of their own (same title), averaged with the shipped vector.

The shipped text is always scored; the second argument names the other variants to score (default: all).

Scored as `bench/heldout.py` scores a model on the validation collections (every link cut from every note; macro
R@10, the model alone and fused with the engine's lexical match weighted by the vault's links), with the shipped
text as the control. Vectors are cached under .cache/heldout like the benchmark's.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
KEYWORDS = 8


def outlines(root: Path, name: str) -> dict[str, str]:
    """Each note's headings by note id, as `training.heldout.read_collection` names its notes."""
    from notellm.engine.markdown import parse_note, split_frontmatter, strip_code, strip_links
    from notellm.training.data import read_vault

    _, sources, _ = read_vault(root)
    found = {}
    for path, source in sources.items():
        source = strip_links(source)
        title = parse_note(source, PurePosixPath(path).stem).title
        body = strip_code(split_frontmatter(source)[1])
        headings = [text.strip() for marks, text in HEADING.findall(body)
                    if not (len(marks) == 1 and text.strip() == title)]
        found[f"{name}/{path}"] = " · ".join(dict.fromkeys(h for h in headings if h))
    return found


def main() -> None:
    import heldout as bench  # bench/heldout.py: the validation split, its vector cache and model key
    import numpy as np

    from notellm.engine.keywords import keywords
    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS, with_keyword_line
    from notellm.training.corpus import DEFAULT_CORPUS, extract
    from notellm.training.evaluate import LexicalRanker
    from notellm.training.heldout import cosine_scores, link_metrics, link_ranks, macro_mean, weight_from_links, weighted_ranks

    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "assets" / "models" / "notellm-default.gguf"
    _, split, collections = bench.validation_collections()
    roots = {c.name: extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus") for c in split.validation}
    heads = {note_id: outline for d in collections for note_id, outline in outlines(roots[d.name], d.name).items()}
    languages = {c.name: c.main_language for c in split.validation}

    def with_prefix(prefix: str, text: str) -> str:
        return f"{prefix}\n\n{text}" if prefix else text

    variants = {
        "first tokens (shipped)": lambda note: note["text"],
        "outline": lambda note: with_prefix(heads.get(note["id"], ""), note["text"]),
        "keywords": lambda note: with_keyword_line(note["title"], note["text"], KEYWORDS),
    }
    for count in (4, 12, 16, 24, 32):
        variants[f"keywords-{count}"] = lambda note, count=count: with_keyword_line(note["title"], note["text"], count)
    variants["keywords as #tags"] = lambda note: with_prefix(" ".join(f"#{w}" for w in keywords(note["title"], note["text"], KEYWORDS)), note["text"])
    only = sys.argv[2].split(",") if len(sys.argv) > 2 else None
    variants = {label: content for label, content in variants.items() if only is None or label in only or label.endswith("(shipped)")}
    print(f"notes with headings beyond the title: {sum(map(bool, heads.values()))} of {sum(len(d.notes) for d in collections)}", flush=True)
    lexical = {d.name: LexicalRanker().scores(d.notes, d.sources) for d in collections}
    model = NoteModel(model_path, threads=2)
    key = bench.model_key(model_path, DEFAULT_CONTENT_TOKENS)

    def embedder(content):
        return lambda notes: model.embed_notes([(n["title"], content(n)) for n in notes], DEFAULT_CONTENT_TOKENS)

    def shipped_vectors(data):
        return bench.cached_vectors("default", key, data, embedder(lambda note: note["text"]))[0]

    def two_chunks(data):
        """The shipped vector averaged with the vector of the note's next 128 tokens, where it has more."""
        rests = {}
        for i, note in enumerate(data.notes):
            rest = model.tokenizer.detokenize(model.tokenizer.tokenize_plain(note["text"])[DEFAULT_CONTENT_TOKENS:]).strip()
            if rest:
                rests[i] = rest
        print(f"  {data.name}: {len(rests)} of {len(data.notes)} notes longer than {DEFAULT_CONTENT_TOKENS} tokens", flush=True)
        vectors = shipped_vectors(data).copy()
        vectors[list(rests)] += model.embed_notes([(data.notes[i]["title"], rest) for i, rest in rests.items()], DEFAULT_CONTENT_TOKENS)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    rows = {label: (shipped_vectors if label.endswith("(shipped)") else
                    lambda data, label=label, content=content: bench.cached_vectors(f"content-{label}", key, data, embedder(content))[0])
            for label, content in variants.items()}
    if only is None or "two chunks" in only:
        rows["two chunks, averaged"] = two_chunks
    print("| note text | macro R@10 alone | fused, weighted by links | " + " | ".join(d.name.split("__")[0] + f" ({languages[d.name]})" for d in collections) + " |")
    print("|---|---|---|" + "---|" * len(collections))
    for label, vectors_of in rows.items():
        alone, fused = {}, {}
        for data in collections:
            scores = cosine_scores(vectors_of(data), data.sources)
            alone[data.name] = link_metrics(link_ranks(scores, data))
            fused[data.name] = link_metrics(weight_from_links(weighted_ranks(scores, lexical[data.name], data), data)[0])
        cells = " | ".join(f"{alone[d.name]['R@10']:.3f} / {fused[d.name]['R@10']:.3f}" for d in collections)
        print(f"| {label} | {macro_mean(list(alone.values()))['R@10']:.3f} | {macro_mean(list(fused.values()))['R@10']:.3f} | {cells} |", flush=True)
    model.close()


if __name__ == "__main__":
    main()
