"""Hashtags voted for by a note's related notes (engine.neighbour_tags)."""

from notellm.engine.neighbour_tags import folder_votes, neighbour_tags


def test_a_tag_needs_a_close_neighbour_or_several_further_ones():
    lists = [["sourdough", "Baking"], [], ["baking"], ["bread"], ["bread"], ["bread"]]
    # baking: 1 + 1/3; sourdough: 1; bread: 1/4 + 1/5 + 1/6 < 1
    assert neighbour_tags(lists, limit=3) == ["Baking", "sourdough"]


def test_the_vault_spelling_wins_and_own_tags_are_never_proposed():
    lists = [["machine-learning"], ["Machine Learning"], ["machine-learning"], ["maths"]]
    assert neighbour_tags(lists, own_tags=["maths"]) == ["machine-learning"]
    # maths alone (1/4) stays under the bar, so the fallback proposes it as the one best remaining tag
    assert neighbour_tags(lists, own_tags=["MachineLearning"]) == ["maths"]


def test_untagged_close_neighbours_fall_back_to_the_best_tag_further_away():
    lists = [[]] * 12 + [["kubernetes"], ["docker"], ["kubernetes"]]
    assert neighbour_tags(lists) == ["kubernetes"]
    assert neighbour_tags([[]] * 60 + [["late"]]) == []  # beyond the fallback's reach


def test_without_the_fallback_a_tag_short_of_the_votes_is_not_proposed():
    assert neighbour_tags([[]] * 12 + [["kubernetes"], ["docker"], ["kubernetes"]], fallback=False) == []


def test_a_tag_the_note_names_itself_goes_before_a_slightly_better_voted_one():
    lists = [["travel"], ["cooking"], ["cooking"]]  # travel: 1; cooking: 1/2 + 1/3, short of the bar
    assert neighbour_tags(lists) == ["travel"]  # one tag reaches the votes, so one is proposed
    assert neighbour_tags(lists, note_terms=["a", "cooking", "trip"]) == ["cooking"]


def test_votes_further_away_break_what_the_closest_leave_even():
    lists = [["ada", "zig"]] + [[]] * 11 + [["zig"]]  # a tie among the 10 closest; zig is also the 13th's
    assert neighbour_tags(lists) == ["zig", "ada"]


def test_the_notes_of_its_folder_outweigh_a_slightly_better_voted_tag():
    lists = [["travel"], ["recipe"], ["recipe"]]  # travel: 1; recipe: 1/2 + 1/3
    assert neighbour_tags(lists) == ["travel"]
    # two of the three other notes in its folder carry #recipe
    assert neighbour_tags(lists, folder_tag_lists=[["recipe"], ["Recipe", "quick"], []]) == ["recipe"]


def test_the_notes_it_links_with_outweigh_a_slightly_better_voted_tag():
    lists = [["travel"], ["recipe"], ["recipe"]]
    assert neighbour_tags(lists, linked_tag_lists=[["recipe"]]) == ["recipe"]
    assert neighbour_tags(lists, linked_tag_lists=[[]]) == ["travel"]  # an untagged linked note votes for nothing


def test_links_and_folders_choose_but_do_not_add_tags():
    # no related note votes enough, and without the fallback nothing is proposed however the folder leans
    assert neighbour_tags([[]] * 12 + [["recipe"]], fallback=False, folder_tag_lists=[["recipe"]] * 5) == []
    # with one tag to propose, the folder's tag can be it though no related note carries it
    assert neighbour_tags([["travel"]], folder_tag_lists=[["recipe"]] * 5) == ["recipe"]


def test_a_voted_tag_far_weaker_than_the_best_is_left_out():
    lists = [["travel", "recipe"], ["travel"]]
    # travel: 1 + 1/2, recipe: 1, both reach the votes' count; then the other notes of its folder all carry #travel
    assert neighbour_tags(lists) == ["travel", "recipe"]
    assert neighbour_tags(lists, folder_tag_lists=[["travel"]] * 4) == ["travel"]  # recipe scores under half of travel


def test_only_a_folder_below_the_vaults_top_votes():
    assert folder_votes("kitchen") and folder_votes("projects/2026")
    assert not folder_votes("")
