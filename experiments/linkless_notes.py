"""A training data folder whose notes have every link cut out, words included, as the evaluation reads them.

`prepare-corpus` keeps a note's links as the engine reads them: `[[Modified Duration]]` stays in the text as
"Modified Duration". Every link is also a training pair, so in 54% of the 114,080 pairs one note's first 500
characters hold the other's title word for word, and the model can match the pair by that title. The
evaluation (`training.heldout.read_collection`) and the app's named-notes list (`engine.mentions`) take that
case away from the model: the evaluation cuts every link with its words (`engine.markdown.strip_links`), and
the app finds the notes a note names by their titles without the model. This folder gives the model the
evaluation's reading in training too, so that a pair can be matched only by what the two notes say. The pairs
are unchanged.

    .venv/bin/python experiments/linkless_notes.py data/corpus data/corpus-linkless
    notellm-train train data/corpus-linkless -o runs/linkless ...   # the screen's flags (docs/experiments.md)
"""

from __future__ import annotations

import argparse
from pathlib import Path, PurePosixPath

from notellm.engine.markdown import parse_note, strip_links
from notellm.training.data import Dataset, read_vault


def title_in_partner(notes: dict[str, dict], pairs: list[dict], chars: int = 500) -> float:
    """Share of pairs where one note's first `chars` characters hold the other's title (casefolded)."""
    def names(a: dict, b: dict) -> bool:
        return b["title"].casefold() in a["text"][:chars].casefold()

    hits = sum(names(notes[p["a"]], notes[p["b"]]) or names(notes[p["b"]], notes[p["a"]]) for p in pairs)
    return hits / max(len(pairs), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="A prepared training data folder (notellm-train prepare-corpus).")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()

    data = Dataset.load(args.source)
    notes = {note_id: dict(note) for note_id, note in data.notes.items()}
    for vault, summary in data.manifest["vaults"].items():
        _, sources, _ = read_vault(Path(summary["path"]))
        for path, source in sources.items():
            note = notes.get(f"{vault}/{path}")
            if note is not None:
                note["text"] = parse_note(strip_links(source), PurePosixPath(path).stem).text
    before, after = title_in_partner(data.notes, data.pairs), title_in_partner(notes, data.pairs)
    manifest = {**data.manifest, "links_cut": True}
    Dataset(notes, data.pairs, data.heldout, manifest).save(args.out)
    print(f"pairs where a note's first 500 characters name the other: {before:.1%} before, {after:.1%} with the links "
          f"cut; wrote {args.out}")


if __name__ == "__main__":
    main()
