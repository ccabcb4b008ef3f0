"""The weights of the model, the folders and the notes a note names in related notes, chosen from the vault's own
links (engine/fusion_weight.py, engine/mentions.py)."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess

import pytest
from conftest import ENGINE, write_notes

from notellm.engine import fusion_weight
from notellm.engine.folder_ranking import folder_distance, nearest_first
from notellm.engine.fusion_weight import DEFAULT, Weighting, choose_weighting, found_per_weighting, weighted_ranking
from notellm.engine.lexical import document, fuse_ranked
from notellm.engine.mentions import TitleIndex, title_terms

FILLER = ("Notes from the weekly review. The plan for the week was written down on Monday and checked on Friday. "
          "Most of the tasks were done in the morning, some were moved to the next week, and a few were dropped. ") * 2


def coined_words(count: int) -> list[str]:
    """Words no tokenizer or vault knows, one per pair of notes."""
    syllables = ["ka", "lo", "mi", "zu", "re", "ti", "po", "na"]
    return ["".join(parts) for parts in itertools.islice(itertools.product(syllables, repeat=4), 0, count * 37, 37)]


def paired_vault(root, pairs: int):
    """`pairs` notes that each link to a partner; only a coined word at the end of both, past what the model
    reads in the tests (48 tokens), tells which partner is whose."""
    notes = {}
    for number, word in enumerate(coined_words(pairs)):
        notes[f"Review {number}.md"] = f"# Review {number}\n\n{FILLER}\nSee [[Outcome {number}]] about the {word} project.\n"
        notes[f"Outcome {number}.md"] = f"# Outcome {number}\n\n{FILLER}\nThe {word} project went well.\n"
    return write_notes(root, notes)


def test_the_vaults_weighting_is_the_one_that_found_most_links_and_a_tie_keeps_the_default_else_leans_to_words_without_folders():
    assert choose_weighting({Weighting(0.0, 0.0): 12, Weighting(0.25, 0.0): 10, DEFAULT: 9}) == Weighting(0.0, 0.0)
    assert choose_weighting({Weighting(0.0, 0.0): 9, Weighting(0.5, 0.0): 9, DEFAULT: 9, Weighting(1.0, 2.0): 9}) == DEFAULT
    assert choose_weighting({Weighting(0.25, 0.0): 8, Weighting(0.5, 0.0): 8, DEFAULT: 7}) == Weighting(0.25, 0.0)
    assert choose_weighting({Weighting(0.5, 1.0): 8, Weighting(1.0, 2.0): 8, DEFAULT: 7}) == Weighting(0.5, 1.0)
    assert choose_weighting({Weighting(1.0, 0.0, 1.0): 8, Weighting(0.5, 2.0): 8, DEFAULT: 7}) == Weighting(0.5, 2.0)
    assert choose_weighting({}) == DEFAULT == Weighting(fusion_weight.DEFAULT_WEIGHT, 0.0, 0.0)
    assert Weighting.from_key(Weighting(0.25, 2.0, 1.0).key()) == Weighting(0.25, 2.0, 1.0)
    with pytest.raises(ValueError):
        Weighting.from_key("0.25/2")  # as kept before named notes took part


def test_at_weight_zero_the_shared_words_rank_and_the_model_only_orders_what_they_leave_out():
    model, words = [7, 8, 1, 2], [2, 1, 3]
    assert weighted_ranking(model, words, Weighting(0.0)) == [2, 1, 3, 7, 8]
    assert weighted_ranking(model, words, DEFAULT) == [item for item, _ in fuse_ranked([model, words])]
    # 2 is the words' first and the model's 4th, 1 their second and the model's 3rd: more weight on the model puts 1 first.
    assert weighted_ranking(model, words, DEFAULT)[0] == 2 and weighted_ranking(model, words, Weighting(1.5))[0] == 1
    assert found_per_weighting(model, words, {3})[Weighting(0.0)] == 1


def test_folders_are_as_near_as_the_steps_between_them_in_the_tree():
    assert folder_distance("courses/math", "courses/math") == 0
    assert folder_distance("courses/math", "courses/physics") == 2
    assert folder_distance("courses", "courses/math/week 1") == 2
    assert folder_distance("", "courses/math") == folder_distance("courses/math", "") == 2
    assert folder_distance("a/b", "ab") == 3  # names, not the letters they start with
    # Nearest folder first, the fused order kept within a distance; a note of unknown folder last.
    folders = {1: "journal", 2: "courses/math", 3: "courses/physics", 4: "courses/math"}
    assert nearest_first([9, 1, 3, 2, 4], folders, "courses/math") == [2, 4, 3, 1, 9]


def test_a_folder_weight_brings_the_notes_of_the_notes_folder_up_and_none_leaves_the_ranking_as_it_was():
    model, words = [1, 2, 3, 4], [2, 1, 4, 3]
    folders = {1: "journal", 2: "journal", 3: "courses/math", 4: "courses/math"}
    assert weighted_ranking(model, words, DEFAULT, folders, "courses/math") == [1, 2, 3, 4]
    # The note's folder's best candidate, 3, comes first; 4, its second, gains on 2 but not past it.
    assert weighted_ranking(model, words, Weighting(1.0, 2.0), folders, "courses/math") == [3, 1, 2, 4]
    assert weighted_ranking(model, words, Weighting(1.0, 2.0)) == weighted_ranking(model, words, DEFAULT)  # no folder given
    found = found_per_weighting(model, words, {3, 4}, folders, "courses/math")
    assert set(found) == set(fusion_weight.WEIGHTINGS) and found[Weighting(1.0, 2.0)] == 2


def test_a_note_names_a_title_as_a_run_of_whole_terms_longest_title_first():
    titles = TitleIndex([(1, "Graph View"), (2, "Java"), (3, "View"), (4, "AI"), (5, "线性代数"), (6, "Graph view and links")])
    named = lambda text, **options: titles.named_in(document("A note", text).split(), **options)  # noqa: E731
    assert named("The graph view shows links; see the View menu.") == [1, 3]  # the longer title first
    assert named("JavaScript is not it, and AI is too short to tell.") == []  # whole words; a title of two letters names nothing
    assert named("View it, then the graph view and links of Java.") == [6, 1, 3, 2]  # longest first, then the first named
    assert named("复习线性代数的笔记") == [5]  # CJK by character pairs, no spaces needed
    assert named("The graph view.", exclude=1) == [3]
    assert title_terms("C#") is None and title_terms("Graph View") == ("graph", "view")


def test_titles_that_begin_alike_are_named_only_where_the_whole_run_stands():
    titles = TitleIndex([(1, "Meeting"), (2, "Meeting with Ana"), (3, "Meeting with Bob"), (4, "Meeting notes 2024"),
                         *((10 + day, f"Meeting on day {day}") for day in range(1000))])
    named = lambda text: titles.named_in(document("A note", text).split())  # noqa: E731
    assert named("After the meeting with Bob, the meeting on day 7 was moved.") == [17, 3, 1]
    assert named("Bob with meeting notes, Ana.") == [1]  # the words of a title out of their order name nothing


def test_a_mention_weight_brings_the_named_notes_up_and_none_leaves_the_ranking_as_it_was():
    model, words = [1, 2, 3, 4], [2, 1, 4, 3]
    assert weighted_ranking(model, words, Weighting(1.0, 0.0, 1.0), named=[4])[0] == 4
    assert weighted_ranking(model, words, DEFAULT, named=[4]) == weighted_ranking(model, words, DEFAULT)
    assert weighted_ranking(model, words, Weighting(1.0, 0.0, 1.0), named=[]) == weighted_ranking(model, words, DEFAULT)
    assert 9 in weighted_ranking(model, words, Weighting(1.0, 0.0, 1.0), named=[9])  # named, in neither list: it joins them
    found = found_per_weighting(model, words, {4}, named=[4])
    assert found[Weighting(1.0, 0.0, 1.0)] == 1 and set(found) == set(fusion_weight.WEIGHTINGS)


def test_a_vault_whose_links_follow_its_words_gets_a_weight_chosen_from_them(tmp_path, open_index):
    vault = paired_vault(tmp_path / "pairs", fusion_weight.MIN_SOURCES + 2)
    index = open_index(vault)
    summary = index.reindex()
    chosen = json.loads(index.store.get_meta(fusion_weight.META_KEY))
    assert chosen["sources"] == chosen["links"] == fusion_weight.MIN_SOURCES + 2
    assert chosen["found"][chosen["weighting"]] == max(chosen["found"].values())
    assert chosen["found"]["0/0/0"] == chosen["links"]  # the coined word finds every partner
    # One folder for all: folders tell nothing; no title is named; a tie leaves both out.
    assert Weighting.from_key(chosen["weighting"])[1:] == (0.0, 0.0)
    assert summary.ranking == index.status().ranking
    assert f"chosen from {chosen['links']} links of {chosen['sources']} notes" in summary.ranking
    assert [r.path for r in index.related("Review 3.md", k=1)] == ["Outcome 3.md"]

    assert index.reindex().ranking == ""  # nothing changed: the choice holds
    write_notes(vault, {f"Review {n}.md": f"# Review {n}\n\n{FILLER}\n[[Outcome {n}]] [[Outcome {n + 1}]]\n" for n in range(5)})
    assert index.reindex().ranking != ""  # a fifth more links: chosen again


def reindex_and_choice(index):
    """Index the vault: the summary, and what its links chose, as the index keeps it (JSON) and as a Weighting."""
    summary = index.reindex()
    chosen = json.loads(index.store.get_meta(fusion_weight.META_KEY))
    return summary, chosen, Weighting.from_key(chosen["weighting"])


def filed_vault(root, pairs: int):
    """`pairs` folders, each holding a note that links to its partner and an aside; no two notes share a word
    but the ones every review, outcome or aside has, so only the folder tells which partner is whose."""
    notes = {}
    words = coined_words(4 * pairs)
    for folder, planned, done, noted in zip(words[0::4], words[1::4], words[2::4], words[3::4]):
        notes[f"{folder}/Review.md"] = f"# Review\n\nThe plan for {planned}.\nSee [[{folder}/Outcome]].\n"
        notes[f"{folder}/Outcome.md"] = f"# Outcome\n\nWhat came of {done}.\n"
        notes[f"{folder}/Aside.md"] = f"# Aside\n\nA word on {noted}.\n"
    return write_notes(root, notes)


def test_a_vault_whose_links_follow_its_folders_ranks_the_notes_folder_first(tmp_path, open_index, folderless_model):
    pairs = fusion_weight.MIN_SOURCES + 2
    vault = filed_vault(tmp_path / "filed", pairs)
    index = open_index(vault, model=folderless_model)  # a model that reads the folders' names would find partners too
    summary, chosen, weighting = reindex_and_choice(index)
    assert weighting.folder > 0 and chosen["found"][chosen["weighting"]] == chosen["links"] == pairs
    assert max(count for key, count in chosen["found"].items() if not Weighting.from_key(key).folder) < pairs // 2  # without folders: chance
    assert f"nearest folders first at weight {weighting.folder:g}" in summary.ranking
    for folder in coined_words(4 * pairs)[0:20:4]:
        assert {r.path for r in index.related(f"{folder}/Outcome.md", k=2)} == {f"{folder}/Review.md", f"{folder}/Aside.md"}
        # The aside shares no word with the other two: they are there for the folder, and say so.
        assert {(r.path, r.reason) for r in index.related(f"{folder}/Aside.md", k=2)} == {
            (f"{folder}/Review.md", "same folder"), (f"{folder}/Outcome.md", "same folder")}
    index.fuse_folders = False  # as the scale benchmark times it: the ranking without the folders' list
    unfiled = index.related(f"{folder}/Aside.md", k=2)
    assert {r.path for r in unfiled} != {f"{folder}/Review.md", f"{folder}/Outcome.md"}  # the other asides' words lead
    assert all(r.reason != "same folder" for r in unfiled)


COLOURS = ("amber", "azure", "coral", "ivory", "olive", "slate", "tawny", "umber")
ANIMALS = ("badger", "heron", "lynx", "marten", "otter", "plover", "stoat", "wren")


def named_vault(root, sources: int, tagged: bool = False):
    """Notes titled by a colour and an animal, every pairing; `sources` journal notes, each naming one of them in
    a sentence that also holds three other colours and three other animals, and linking it. The words tie the
    named note with 15 others; only the title, named as a phrase, tells which one the journal means. One more
    journal note names a title without linking it. `tagged`: each colour-and-animal note carries its own tag."""
    notes = {f"{colour.title()} {animal}.md": (f"---\ntags: [{colour}-{animal}]\n---\n" if tagged else "")
             + f"# {colour.title()} {animal}\n\n{FILLER}\n" for colour in COLOURS for animal in ANIMALS}
    for number, word in enumerate(coined_words(sources + 1)):
        colour, animal = COLOURS[number % 8], ANIMALS[(number * 3) % 8]
        others = [COLOURS[(number + step) % 8] for step in (1, 3, 5)], [ANIMALS[(number * 3 + step) % 8] for step in (2, 4, 6)]
        sentence = (f"By the {others[0][0]} barn, the {others[0][1]} gate and the {others[0][2]} fence we saw "
                    f"the {colour} {animal}; a {others[1][0]}, a {others[1][1]} and a {others[1][2]} ran off.")
        link = f" [[{colour.title()} {animal}]]" if number < sources else ""
        notes[f"Journal {word}.md"] = f"# Journal {word}\n\n{FILLER}\n{sentence}{link}\n"
    return write_notes(root, notes)


def test_a_vault_whose_links_follow_the_titles_its_notes_name_ranks_the_named_note_first(tmp_path, open_index):
    sources = fusion_weight.MIN_SOURCES + 2
    vault = named_vault(tmp_path / "named", sources)
    index = open_index(vault)
    summary, chosen, weighting = reindex_and_choice(index)
    assert weighting.mention > 0 and chosen["found"][chosen["weighting"]] == chosen["links"] == sources
    assert max(count for key, count in chosen["found"].items() if not Weighting.from_key(key).mention) < sources
    assert f"the notes it names at weight {weighting.mention:g}" in summary.ranking
    unlinked = f"Journal {coined_words(sources + 1)[-1]}.md"
    first = index.related(unlinked, k=3)[0]
    assert (first.path, first.reason, first.linked) == (f"{COLOURS[sources % 8].title()} {ANIMALS[(sources * 3) % 8]}.md",
                                                       "named in this note", False)
    index.fuse_mentions = False  # as the scale benchmark times it: the ranking without the named notes' list
    assert all(r.reason != "named in this note" for r in index.related(unlinked, k=3))


def test_hashtags_come_from_the_related_notes_the_panel_shows_the_note_it_names_first(tmp_path, open_index):
    sources = fusion_weight.MIN_SOURCES + 2
    index = open_index(named_vault(tmp_path / "named", sources, tagged=True))
    assert reindex_and_choice(index)[2].mention > 0
    unlinked = f"Journal {coined_words(sources + 1)[-1]}.md"
    colour, animal = COLOURS[sources % 8], ANIMALS[(sources * 3) % 8]
    assert index.related(unlinked, k=1)[0].path == f"{colour.title()} {animal}.md"
    assert index.suggest_tags(unlinked) == [f"{colour}-{animal}"]  # the one closest neighbour's vote is enough
    index.fuse_mentions = False  # the pair alone: the named note is one of 16 that share its words
    assert f"{colour}-{animal}" not in index.suggest_tags(unlinked, refresh=True)


def test_a_vault_with_few_links_gets_the_fixed_weighting_names_its_titles_and_says_why(garden, open_index):
    write_notes(garden, {"Baking/Focaccia.md": "# Focaccia\n\nSpread the pizza dough in an oiled tin and bake it hot.\n"})
    index = open_index(garden)
    assert "chosen from the vault's links at the next reindex" in index.status().ranking
    index.reindex()
    assert fusion_weight.UNCHOSEN.folder and fusion_weight.UNCHOSEN.mention
    assert index.status().ranking == (f"{fusion_weight.leaning(fusion_weight.UNCHOSEN)} (2 notes link to others; "
                                      f"{fusion_weight.MIN_SOURCES} are needed to choose from the vault's own links)")
    assert index.status().ranking.startswith("model and shared words at equal weight, nearest folders first at weight 0.5, "
                                             "the notes it names at weight 1 (2 notes link")
    first = index.related("Baking/Focaccia.md", k=3)[0]
    assert (first.path, first.reason) == ("Baking/Pizza dough.md", "named in this note")
    index.fuse_mentions = False
    assert index.related("Baking/Focaccia.md", k=3)[0].reason != "named in this note"


def test_a_run_that_steps_aside_while_choosing_goes_on_with_it_without_embedding_again(tmp_path, open_index):
    vault = paired_vault(tmp_path / "pairs", fusion_weight.MIN_SOURCES + 2)
    index = open_index(vault)
    weighing = []
    first = index.reindex(should_stop=lambda: bool(weighing), calibration_progress=lambda done, total: weighing.append(done))
    assert first.cancelled and first.embedded == 2 * (fusion_weight.MIN_SOURCES + 2)
    assert weighing == [fusion_weight.BATCH] and index.store.get_meta(fusion_weight.META_KEY) is None
    rest = index.reindex(carry_on=True, calibration_progress=lambda done, total: weighing.append(done))
    assert not rest.cancelled and rest.embedded == 0 and rest.ranking
    assert weighing[1] == 2 * fusion_weight.BATCH  # where it stopped, not from the start


@pytest.mark.parametrize("kept", ['{"weight": "heavy"}',
                                  # as an index kept it before folders took part: chosen again, with them
                                  '{"weight": 0.5, "sources": 20, "links": 20, "found": {"0.5": 20}, "embedder": "", "link_count": 20}',
                                  # before named notes took part: chosen again, with them
                                  '{"weighting": "0.5/1", "sources": 20, "links": 20, "found": {"0.5/1": 20}, "embedder": "", "link_count": 20}'])
def test_an_unreadable_or_older_choice_in_the_index_is_made_again(tmp_path, open_index, kept):
    vault = paired_vault(tmp_path / "pairs", fusion_weight.MIN_SOURCES)
    index = open_index(vault)
    index.reindex()
    index.close()
    with sqlite3.connect(index.index_dir / "index.db") as db:
        db.execute("update meta set value = ? where key = ?", [kept, fusion_weight.META_KEY])
    index = open_index(vault)
    assert "at the next reindex" in index.status().ranking
    assert [r.path for r in index.related("Review 1.md", k=1)] == ["Outcome 1.md"]
    assert index.reindex().ranking
    assert "weighting" in json.loads(index.store.get_meta(fusion_weight.META_KEY))


def test_the_cli_says_what_related_notes_lean_on_after_a_reindex_and_in_status(tmp_path):
    vault = paired_vault(tmp_path / "pairs", fusion_weight.MIN_SOURCES)
    reindex = subprocess.run([*ENGINE, "reindex", str(vault), "--tokens", "48"], capture_output=True, text=True, timeout=600)
    assert reindex.returncode == 0, reindex.stderr
    chosen = reindex.stdout.splitlines()[-1]
    assert chosen.startswith("Related notes: ") and f"chosen from {fusion_weight.MIN_SOURCES} links" in chosen
    assert "Weighing by links" in reindex.stderr  # the progress bar
    status = subprocess.run([*ENGINE, "status", str(vault)], capture_output=True, text=True, timeout=600)
    assert f"related:  {chosen.removeprefix('Related notes: ')}" in status.stdout.splitlines()
