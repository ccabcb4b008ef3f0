"""A hashtag from a note's folder name (engine.folder_tags), for vaults whose related notes carry no tags."""

from notellm.engine.folder_tags import folder_name, folder_tag, notes_by_folder_name
from notellm.engine.tag_suggestions import NoteTerms, suggest_hashtags
from notellm.engine.term_index import TermIndex


def test_a_folders_last_part_names_the_tag_and_the_vaults_top_none():
    assert folder_name("Cooking/Sourdough bread") == "Sourdough-bread"
    assert folder_name("") is None
    assert folder_name("2024") is None  # digits alone make no tag


def test_a_folder_name_goes_only_where_its_folders_hold_a_tenth_of_the_vault_at_most():
    by_name = notes_by_folder_name({"": 50, "projects/kubernetes": 6, "archive/Kubernetes": 4, "inbox": 40})
    assert by_name["kubernetes"] == 10  # folders of one name count together, wherever they are
    assert folder_tag("projects/kubernetes", by_name, 100) == "kubernetes"
    assert folder_tag("inbox", by_name, 100) is None  # 40% of the notes
    assert folder_tag("projects/kubernetes", by_name, 90) is None  # 10 of 90 is over a tenth
    assert folder_tag("", by_name, 100) is None


def test_an_untagged_notes_folder_name_comes_after_the_models_tag_and_before_its_words():
    rows = {0: "sourdough starter flour water", 1: "sourdough loaf crust", 2: "flour mill", 3: "water kefir fermentation"}
    index = TermIndex.of(rows.items())
    note = NoteTerms(0, rows[0].split(), {"sourdough"}, [set(rows[1].split())], folder_name_tag="baking")
    tags = suggest_hashtags([[]], note, index, 0.0, 3, model_tags=lambda: ["fermentation"])
    assert tags[:2] == ["fermentation", "baking"] and len(tags) == 3
    assert "baking" not in suggest_hashtags([[]], NoteTerms(0, rows[0].split(), {"sourdough"}, [set(rows[1].split())],
                                                            own_tags=["Baking"], folder_name_tag="baking"), index, 0.0, 3)
    # where the related notes' tags give an answer, the folder's name is not asked
    assert suggest_hashtags([["bread"]], note, index, 0.0, 3) == ["bread"]
