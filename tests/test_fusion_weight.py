"""The model's weight in related notes, chosen from the vault's own links (engine/fusion_weight.py)."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess

from conftest import ENGINE, write_notes

from notellm.engine import fusion_weight
from notellm.engine.fusion_weight import choose_weight, found_per_weight, weighted_ranking
from notellm.engine.lexical import fuse_ranked

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


def test_the_vaults_weight_is_the_one_that_found_most_links_and_a_tie_keeps_equal_weight_else_leans_to_the_words():
    assert choose_weight({0.0: 12, 0.25: 10, 1.0: 9}) == 0.0
    assert choose_weight({0.0: 9, 0.5: 9, 1.0: 9, 1.5: 9}) == 1.0
    assert choose_weight({0.25: 8, 0.5: 8, 1.0: 7}) == 0.25
    assert choose_weight({}) == fusion_weight.DEFAULT_WEIGHT


def test_at_weight_zero_the_shared_words_rank_and_the_model_only_orders_what_they_leave_out():
    model, words = [7, 8, 1, 2], [2, 1, 3]
    assert weighted_ranking(model, words, 0.0) == [2, 1, 3, 7, 8]
    assert weighted_ranking(model, words, 1.0) == [item for item, _ in fuse_ranked([model, words])]
    # 2 is the words' first and the model's 4th, 1 their second and the model's 3rd: more weight on the model puts 1 first.
    assert weighted_ranking(model, words, 1.0)[0] == 2 and weighted_ranking(model, words, 1.5)[0] == 1
    assert found_per_weight(model, words, {3})[0.0] == 1


def test_a_vault_whose_links_follow_its_words_gets_a_weight_chosen_from_them(tmp_path, open_index):
    vault = paired_vault(tmp_path / "pairs", fusion_weight.MIN_SOURCES + 2)
    index = open_index(vault)
    summary = index.reindex()
    chosen = json.loads(index.store.get_meta(fusion_weight.META_KEY))
    assert chosen["sources"] == chosen["links"] == fusion_weight.MIN_SOURCES + 2
    assert chosen["found"][str(chosen["weight"])] == max(chosen["found"].values())
    assert chosen["found"]["0.0"] == chosen["links"]  # the coined word finds every partner
    assert summary.ranking == index.status().ranking
    assert f"chosen from {chosen['links']} links of {chosen['sources']} notes" in summary.ranking
    assert [r.path for r in index.related("Review 3.md", k=1)] == ["Outcome 3.md"]

    assert index.reindex().ranking == ""  # nothing changed: the choice holds
    write_notes(vault, {f"Review {n}.md": f"# Review {n}\n\n{FILLER}\n[[Outcome {n}]] [[Outcome {n + 1}]]\n" for n in range(5)})
    assert index.reindex().ranking != ""  # a fifth more links: chosen again


def test_a_vault_with_few_links_keeps_equal_weight_and_says_why(garden, open_index):
    index = open_index(garden)
    assert "chosen from the vault's links at the next reindex" in index.status().ranking
    index.reindex()
    assert index.status().ranking.startswith("model and shared words at equal weight (2 notes link to others;")


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


def test_an_unreadable_choice_in_the_index_is_made_again(tmp_path, open_index):
    vault = paired_vault(tmp_path / "pairs", fusion_weight.MIN_SOURCES)
    index = open_index(vault)
    index.reindex()
    index.close()
    with sqlite3.connect(index.index_dir / "index.db") as db:
        db.execute("update meta set value = '{\"weight\": \"heavy\"}' where key = ?", [fusion_weight.META_KEY])
    index = open_index(vault)
    assert "at the next reindex" in index.status().ranking
    assert [r.path for r in index.related("Review 1.md", k=1)] == ["Outcome 1.md"]
    assert index.reindex().ranking


def test_the_cli_says_what_related_notes_lean_on_after_a_reindex_and_in_status(tmp_path):
    vault = paired_vault(tmp_path / "pairs", fusion_weight.MIN_SOURCES)
    reindex = subprocess.run([*ENGINE, "reindex", str(vault), "--tokens", "48"], capture_output=True, text=True, timeout=600)
    assert reindex.returncode == 0, reindex.stderr
    chosen = reindex.stdout.splitlines()[-1]
    assert chosen.startswith("Related notes: ") and f"chosen from {fusion_weight.MIN_SOURCES} links" in chosen
    assert "Weighing by links" in reindex.stderr  # the progress bar
    status = subprocess.run([*ENGINE, "status", str(vault)], capture_output=True, text=True, timeout=600)
    assert f"related:  {chosen.removeprefix('Related notes: ')}" in status.stdout.splitlines()
