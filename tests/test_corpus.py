"""The note corpus: reading an archive safely, the split by collection, and judging on a collection
with a known answer. No model here: the judging runs on hand-made scores and on BM25."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from notellm.engine.markdown import strip_links
from notellm.training.corpus import Collection, CorpusError, SplitRule, extract, read_manifest, split_collections
from notellm.training.evaluate import BM25Ranker
from notellm.training.heldout import (HIDDEN_TAG_NOTES, HIDDEN_TAG_SAMPLES, SUGGESTERS, CollectionData, fuse,
                                     hidden_tags_protocol, link_metrics, link_ranks, macro_mean, read_collection, tag_setting)

NOTES = {
    "Sourdough.md": "# Sourdough\n\nFeed the starter with flour and water daily. See [[Bread]].\n",
    "Bread.md": "# Bread\n\nFlour, water, salt and a starter or yeast; bake it hot.\n",
    "Kitchen/Pizza.md": "# Pizza\n\nA wet dough, proofed overnight. [the dough](../Bread.md) is like bread.\n",
    "Eigenvalues.md": "# Eigenvalues\n\nA matrix keeps an eigenvector's direction. [[Matrices|linear maps]]\n",
    "Matrices.md": "---\ntags: [math]\n---\n# Matrices\n\nRows, columns and linear maps. [docs](https://example.org/m)\n",
}


def make_archive(path: Path, notes: dict[str, str], extra: list[tarfile.TarInfo] = ()) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in notes.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info in extra:
            archive.addfile(info)
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    escape = tarfile.TarInfo("../escaped.md")
    escape.size = 0
    link = tarfile.TarInfo("passwd.md")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    make_archive(folder / "someone__kitchen.tar.gz", NOTES, [escape, link])
    row = {"repo": "someone/kitchen", "archive": "someone__kitchen.tar.gz", "language": "en", "licence": "MIT",
           "notes": 5, "edges": 3, "tagged_notes": 1, "topic": "baking and maths"}
    (folder / "manifest.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    return folder


def test_an_archive_is_read_through_the_manifest_and_extracted_safely(corpus, tmp_path):
    [collection] = read_manifest(corpus)
    assert collection.name == "someone__kitchen" and collection.english
    root = extract(corpus, collection, tmp_path / "cache")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.md")) == sorted(NOTES)
    assert not (tmp_path / "cache" / "escaped.md").exists()  # `..` stays out
    assert not (root / "passwd.md").exists()  # links are not extracted
    (root / "Bread.md").write_text("changed", encoding="utf-8")
    assert extract(corpus, collection, tmp_path / "cache") == root  # extracted once, then reused
    assert (root / "Bread.md").read_text(encoding="utf-8") == "changed"


def test_a_missing_manifest_is_one_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no manifest.jsonl"):
        read_manifest(tmp_path)


def collections(count: int) -> list[Collection]:
    languages = ["en", "en", "zh", "ru", "es", "en", "ja", "de", "en", "en"]
    return [Collection(f"o/c{i}", f"o__c{i}.tar.gz", languages[i % len(languages)], "MIT", 100 + 37 * i % 900,
                       150 + i, 10) for i in range(count)]


def test_the_split_is_deterministic_disjoint_and_meets_its_rule():
    pool = collections(40)
    rule = SplitRule(seed=3, size=10, max_notes=700)
    first, again = split_collections(pool, rule), split_collections(list(reversed(pool)), rule)
    assert first == again
    validation = {c.name for c in first.validation}
    assert len(validation) == 10 and not validation & {c.name for c in first.train}
    assert validation | {c.name for c in first.train} == {c.name for c in pool}
    assert sum(not c.english for c in first.validation) >= 3 and any(c.cjk for c in first.validation)
    assert all(c.notes <= 700 for c in first.validation)
    assert {c.name for c in split_collections(pool, replace(rule, seed=4)).validation} != validation


def test_a_split_that_cannot_meet_its_rule_says_so():
    english = [replace(c, language="en") for c in collections(20)]
    with pytest.raises(CorpusError, match="non-English"):
        split_collections(english, SplitRule(size=10, max_notes=1000))


def test_the_shared_corpus_split_is_the_one_the_shipped_model_was_judged_on():
    """tests/data/manifest.jsonl is a copy of ../shared/corpus's manifest (metadata only, no notes)."""
    manifest = read_manifest(Path(__file__).parent / "data")
    split = split_collections(manifest)
    assert [c.name for c in split.validation] == [  # the validation table of docs/benchmarks.md and the model card
        "AshCashh__University-Notes", "Morgawr__morg-zettel", "OWASP__CheatSheetSeries", "davidgasquez__handbook",
        "glennhenry__cs-notes", "ivanstylish__ITMO-Study-Note", "petrkudrnovsky__digital-garden",
        "sleeptoken__zettelkasten", "vanadium23__wiki", "willjhliang__quartz",
    ]
    assert len(split.train) == len(manifest) - 10 == 58


def test_strip_links_removes_every_note_link_and_its_words_but_keeps_web_links():
    text = "See [[Bread]], ![[img.png]], [[Matrices|linear maps]], [dough](../Bread.md) and [docs](https://x.org)."
    assert strip_links(text) == "See , , ,  and [docs](https://x.org)."


def test_judging_a_collection_with_a_known_answer(corpus, tmp_path):
    data = read_collection(extract(corpus, read_manifest(corpus)[0], tmp_path / "cache"), "kitchen")
    titles = [note["title"] for note in data.notes]
    pairs = {(titles[a], titles[b]) for a, b in data.links}
    assert pairs == {("Sourdough", "Bread"), ("Pizza", "Bread"), ("Eigenvalues", "Matrices")}
    assert all("Bread" not in note["text"] and "linear maps]" not in note["text"] for note in data.notes if note["title"] != "Bread")
    assert "linear maps" not in data.notes[titles.index("Eigenvalues")]["text"]  # an alias names its target too
    assert data.vault_tags == ["math"]

    # A perfect ranker puts each target first; a reversed one puts it last.
    n = len(data.notes)
    perfect = np.zeros((len(data.sources), n))
    for row, source in enumerate(data.sources):
        for s, target in data.links:
            if s == source:
                perfect[row, target] = 1.0
    assert link_metrics(link_ranks(perfect, data)) == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0, "R@20": 1.0, "R@100": 1.0, "MRR": 1.0}
    worst = link_ranks(-perfect, data)
    assert list(worst) == [n - 1] * len(data.links)  # last among the n - 1 other notes
    assert link_metrics(worst)["R@1"] == 0.0

    # BM25 finds the shared words; fusing it with the perfect ranking keeps every target in the top 2.
    bm25 = BM25Ranker().scores(data.notes, data.sources)
    assert link_metrics(link_ranks(bm25, data))["R@5"] == 1.0
    assert link_metrics(link_ranks(fuse([perfect, bm25]), data))["R@1"] >= link_metrics(link_ranks(bm25, data))["R@1"]
    assert macro_mean([{"R@1": 1.0, "R@5": 1, "R@10": 1, "R@20": 1, "R@100": 1, "MRR": 1.0},
                       {"R@1": 0.0, "R@5": 0, "R@10": 0, "R@20": 1, "R@100": 1, "MRR": 0.5}])["MRR"] == 0.75


def test_a_hidden_notes_related_notes_are_ranked_by_its_vector_without_its_tags():
    # As the vault shows it, "Sourdough" carries #travel inline and its vector sits beside the travel note's; without
    # the tag, beside the bread note's. Hidden, its related notes must come from the second: its tags are the answer.
    notes = [{"id": f"garden/{title}.md", "path": f"{title}.md", "title": title, "tags": tags, "text": text}
             for title, tags, text in (("Sourdough", ["travel"], "starter #travel"), ("Rye", ["bread"], "flour"),
                                       ("Lisbon", ["travel"], "tram"))]
    data = CollectionData("garden", notes, [])
    shown = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    untagged = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.1]])
    assert tag_setting(data, shown, {0}, untagged).nearest[0][0] == 1
    assert tag_setting(data, shown, set(), untagged).nearest[0][0] == 2
    assert SUGGESTERS["neighbour votes"](tag_setting(data, shown, {0}, untagged), 0) == ["bread"]


def test_the_tagged_protocol_hides_several_samples_one_at_a_time_and_pools_them():
    # Two topics of 60 notes, each note tagged with its topic and holding two of its topic's rare words, each word
    # in 6 notes (few enough to be asked for, `lexical.query_terms`): its 10 closest notes are of its topic, so
    # their votes name its tag, unless the hidden ones among them leave too few votes and the fallback guesses.
    def words(topic: str, i: int) -> str:
        return f"{topic[:3]}a{chr(97 + i // 6)} {topic[:3]}b{chr(97 + i % 10)}"

    notes = [{"id": f"garden/{topic} {i}.md", "path": f"{topic} {i}.md", "title": topic.title(), "tags": [topic],
              "text": words(topic, i)} for topic in ("baking", "algebra") for i in range(60)]
    data = CollectionData("garden", notes, [])
    judged = hidden_tags_protocol(data, None, {name: SUGGESTERS[name] for name in ("popular tags", "neighbour votes")})
    votes, popular = judged["neighbour votes"], judged["popular tags"]
    assert votes["samples"] == popular["samples"] == HIDDEN_TAG_SAMPLES > 1
    assert votes["notes"] == HIDDEN_TAG_SAMPLES * HIDDEN_TAG_NOTES
    assert popular["precision@3"] == 0.5  # both tags for every note: one is right
    assert votes["precision@3"] > 0.9
