"""Personalizing a vault's model: real notellm-train subprocesses, the real SmolLM2 GGUF, real folders."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from conftest import write_notes
from notellm.engine import NotEnoughPairsError, PersonalizeError, TrainingUnavailableError, VaultIndex
from notellm.engine.personalize import INSTALL_HINT, personalize, training_available
from notellm.engine.training_report import (
    CHECKPOINT_FILE,
    TRAINING_LOG_FILE,
    DataManifest,
    LinkScores,
    RunIdentity,
    TrainingReportError,
)

QT_TIMEOUT_MS = 180_000

# Three topics, 17 linked couples of notes: `prepare` holds 3 out and trains on 14.
LINKED_NOTES = {
    "Space/Telescopes.md": "# Telescopes\n\nA telescope gathers light with a lens or a mirror. Point it at [[Planets]], "
    "the [[Moon]] or the [[Stars]] on a clear night.\n",
    "Space/Planets.md": "# Planets\n\nJupiter and Saturn are gas giants; Mars is a cold desert. Planets wander "
    "against the [[Stars]] and some have a [[Moon]].\n",
    "Space/Moon.md": "# Moon\n\nThe Moon shows phases as it orbits the Earth; its craters are sharp near the "
    "terminator. It hides [[Stars]] as it moves.\n",
    "Space/Stars.md": "# Stars\n\nStars are suns far away; their colour tells their temperature, from red dwarfs "
    "to blue giants.\n",
    "Kitchen/Bread.md": "# Bread\n\nFlour, water, salt and yeast; knead, proof, bake. Brush the crust with "
    "[[Olive oil]] and serve with [[Pasta]].\n",
    "Kitchen/Pasta.md": "# Pasta\n\nBoil salted water, cook the pasta al dente, toss it with [[Tomato sauce]] "
    "and a spoon of [[Olive oil]].\n",
    "Kitchen/Tomato sauce.md": "# Tomato sauce\n\nSimmer ripe [[Tomatoes]] with garlic and [[Olive oil]] for "
    "half an hour, then season.\n",
    "Kitchen/Olive oil.md": "# Olive oil\n\nCold-pressed oil from olives; fruity and peppery, good raw on bread "
    "and salads.\n",
    "Garden/Tomatoes.md": "# Tomatoes\n\nSow indoors in March, plant out after the frosts, feed with [[Compost]], "
    "keep [[Watering]] regular and save [[Seeds]] from the best fruit.\n",
    "Garden/Compost.md": "# Compost\n\nGreen and brown waste, turned monthly, becomes dark soil; keep it moist "
    "with [[Watering]].\n",
    "Garden/Seeds.md": "# Seeds\n\nDry seeds in paper envelopes, label them and store them cool; they need "
    "[[Watering]] to sprout.\n",
    "Garden/Watering.md": "# Watering\n\nWater the soil, not the leaves, early in the morning; deep and rare "
    "beats shallow and often.\n",
}
UNLINKED_NOTES = {
    "Tea.md": "# Tea\n\nGreen tea wants water below boiling.\n",
    "Bikes.md": "# Bikes\n\nOil the chain every few hundred kilometres.\n",
    "Rain.md": "# Rain\n\nClouds drop water when the drops grow heavy.\n",
}


@pytest.fixture
def linked_vault(tmp_path) -> Path:
    return write_notes(tmp_path / "linked", LINKED_NOTES)


def remember_settings(vault: Path, model_path: Path) -> None:
    """Index settings personalize trains and compares with: the model the vault uses and a short prompt (fast)."""
    with VaultIndex.open(vault, model=model_path, content_tokens=32) as index:
        index.remember_settings()


@pytest.mark.slow
def test_personalize_trains_compares_and_switches_only_when_the_personal_model_is_better(linked_vault, shipped_model, notellm_home):
    """From the model a new vault gets, the shipped default: it carries a trained head and a tag head."""
    remember_settings(linked_vault, shipped_model)
    seen = []

    result = personalize(linked_vault, steps=2, threads=2, on_progress=seen.append)

    stages = [update.stage for update in seen]
    assert stages.index("prepare") < stages.index("train") < stages.index("export") < stages.index("evaluate")
    assert any(update.stage == "train" and update.done == 2 and update.loss > 0 for update in seen)
    assert result.training_pairs == {"link": 14} and result.heldout_links >= 3
    assert result.steps == 2 and result.resumed_from_step == 0
    previous, personal = result.previous_scores, result.personal_scores
    assert previous.queries == personal.queries == result.heldout_links
    assert 0 <= previous.recall_at_10 <= 1 and 0 < personal.mrr <= 1

    work = Path(result.work_dir)
    assert len((work / "run" / TRAINING_LOG_FILE).read_text().splitlines()) == 2  # the training log stays for the user
    assert not list(work.rglob("*.gguf*")) and not (work / "run" / CHECKPOINT_FILE).exists()
    personal_models = list((notellm_home / "models" / "personal").glob("*.gguf"))
    with VaultIndex.open(linked_vault) as index:
        if personal.beats(previous):
            assert result.outcome == "switched" and personal_models == [Path(result.model)]
            assert index.model_path == Path(result.model)
            assert index.reindex().embedded == len(LINKED_NOTES)  # a new model: every note is embedded again
            assert index.model.projection is not None and index.model.dimensions == 128  # the trained head
            assert index.related("Garden/Compost.md", k=3)
        else:
            assert result.outcome == "kept" and personal_models == []
            assert index.model_path == shipped_model == Path(result.model)


def test_a_vault_without_links_says_what_personalizing_needs(tmp_path, model_path):
    vault = write_notes(tmp_path / "loose", UNLINKED_NOTES)
    remember_settings(vault, model_path)

    with pytest.raises(NotEnoughPairsError) as raised:
        personalize(vault, steps=2)

    message = str(raised.value)
    assert "0 link pairs and 0 navigation pairs" in message and "0 held-out links" in message
    assert "[[wikilinks]]" in message
    with VaultIndex.open(vault) as index:
        assert index.model_path == model_path
        assert not (index.index_dir / "personalize" / "run").exists()  # nothing was trained


def test_a_vault_personalized_by_another_process_is_a_one_line_error(linked_vault, model_path):
    remember_settings(linked_vault, model_path)
    with VaultIndex.open(linked_vault) as index:
        lock_path = index.index_dir / "personalize.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from notellm.engine.lock import FileLock; lock = FileLock(sys.argv[1]); "
         "assert lock.acquire(); print('held', flush=True); sys.stdin.read()", str(lock_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(PersonalizeError, match=rf"already being personalized by another NoteLLM process \(pid {holder.pid}\)$"):
            personalize(linked_vault, steps=2)
    finally:
        holder.stdin.close()
        holder.wait(30)


def test_without_the_training_extra_it_says_how_to_install_it(linked_vault, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # how Python marks a module as not importable

    with pytest.raises(TrainingUnavailableError, match=r"pip install 'notellm-desktop\[train\]'"):
        personalize(linked_vault)


def test_the_personal_model_must_rank_the_held_out_links_better():
    current = LinkScores(recall_at_10=0.5, mrr=0.20, queries=4)
    assert LinkScores(recall_at_10=0.75, mrr=0.10, queries=4).beats(current)  # recall@10 decides first
    assert LinkScores(recall_at_10=0.5, mrr=0.25, queries=4).beats(current)  # MRR breaks a tie
    assert not LinkScores(recall_at_10=0.5, mrr=0.20, queries=4).beats(current)  # as good is not better
    assert not LinkScores(recall_at_10=0.25, mrr=0.90, queries=4).beats(current)


def test_training_writes_the_files_personalize_reads(linked_vault, tmp_path):
    """The trainer's own writers (prepare, evaluate with BM25: no model, quick) against the engine's readers."""
    from notellm.training.data import PrepareConfig, prepare
    from notellm.training.evaluate import evaluate, write_json
    from notellm.training.train_config import TrainConfig

    data = tmp_path / "data"
    prepare([linked_vault], data, PrepareConfig(holdout=0.2))
    manifest = DataManifest.read(data)
    assert manifest.vaults["linked"].train_pairs == {"link": 14} and manifest.heldout_pairs == 3

    report = tmp_path / "bm25.json"
    write_json(evaluate("bm25", data, tag_notes=0), report)
    scores = LinkScores.read(report)
    assert scores.queries == manifest.heldout_pairs and 0 <= scores.recall_at_10 <= 1 and 0 < scores.mrr <= 1
    with pytest.raises(TrainingReportError, match="has no panel"):  # words alone have no vectors to rank a panel by
        LinkScores.read(report, "panel")

    # a checkpoint is resumed by the settings of the run that wrote it, saved as the trainer's whole config
    assert {field.name for field in fields(RunIdentity)} <= {field.name for field in fields(TrainConfig)}


def test_a_model_is_judged_by_the_related_panel_it_gives_the_held_out_links(linked_vault, tmp_path, model_path):
    """What personalize decides by: a GGUF's report scores the held-out links twice, the model alone and as the
    related panel ranks them (words, folders and named notes fused in, the notes already linked left out)."""
    from notellm.training.data import PrepareConfig, prepare
    from notellm.training.evaluate import evaluate, write_json

    data = tmp_path / "data"
    prepare([linked_vault], data, PrepareConfig(holdout=0.2))
    report = tmp_path / "model.json"
    write_json(evaluate(str(model_path), data, content_tokens=32, tag_notes=0, threads=2), report)

    alone, panel = LinkScores.read(report), LinkScores.read(report, "panel")
    assert alone.queries == panel.queries == 3
    # a held-out link stays within its topic's four notes: the panel, which leaves out the notes its source already
    # links with and adds the notes sharing its words and folder, ranks it higher than the base model alone does
    assert panel.recall_at_10 == 1.0 and panel.mrr > alone.mrr


def test_the_panel_leaves_out_the_notes_a_source_already_links_with():
    import numpy as np

    from notellm.training.panel import panel_ranks

    notes = [{"path": f"{title}.md", "title": title, "text": text} for title, text in
             (("Anchor", "alpha"), ("Linked", "bravo"), ("Held", "charlie"), ("Far", "delta"))]
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.95, 0.31], [0.0, 1.0]], dtype=np.float32)
    ranks, choice = panel_ranks(vectors, notes, training_links=[(0, 1)], held_out_links=[(0, 2), (2, 0)])
    assert list(ranks) == [1, 2]  # Anchor's Linked is left out; Held links with nothing, so Linked stays ahead of Anchor
    assert choice.weighting and not choice.kept  # one linking note: the engine's fixed weights, no map


def test_a_training_file_from_another_version_is_an_error_not_a_silent_default(tmp_path):
    (tmp_path / "config.json").write_text('{"base_model": "old.gguf", "content_tokens": 96}', encoding="utf-8")
    with pytest.raises(TrainingReportError, match="has no base"):
        RunIdentity.read(tmp_path)


def test_cli_personalize_explains_itself_and_fails_in_one_line(tmp_path, model_path):
    from click.testing import CliRunner

    from notellm.engine.cli import cli

    help_text = CliRunner().invoke(cli, ["personalize", "--help"]).output
    for promise in ("pip install 'notellm-desktop[train]'", "6-7 s per step", "only if it beats", "--reindex"):
        assert promise in " ".join(help_text.split())

    vault = write_notes(tmp_path / "loose", UNLINKED_NOTES)
    remember_settings(vault, model_path)
    result = CliRunner().invoke(cli, ["personalize", str(vault), "--json"])
    assert result.exit_code == 1 and "too few related notes" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_personalize_action_needs_an_open_vault_and_the_training_extra(qtbot, open_window, tmp_path, monkeypatch):
    vault = write_notes(tmp_path / "loose", UNLINKED_NOTES)
    window = open_window()
    action = window.personalize_action
    assert action in [a for menu in window.menuBar().actions() for a in menu.menu().actions()]
    assert not action.isEnabled() and "Open a vault" in action.toolTip()

    window.open_vault(str(vault))
    qtbot.waitUntil(lambda: window.session.vault is not None, timeout=QT_TIMEOUT_MS)
    assert training_available()  # this test environment has the train extra
    assert action.isEnabled() and "held-out links" in action.toolTip()

    monkeypatch.setitem(sys.modules, "peft", None)  # as if the extra were not installed
    window.open_vault(str(vault))
    qtbot.waitUntil(lambda: window.session.vault is not None, timeout=QT_TIMEOUT_MS)
    assert not action.isEnabled() and INSTALL_HINT in action.toolTip()


def test_app_personalizes_beside_browsing_and_cancel_keeps_the_model(qtbot, open_window, linked_vault):
    window = open_window(linked_vault)
    qtbot.waitUntil(lambda: window.session.run.state == "done", timeout=QT_TIMEOUT_MS)
    model = window.session.index.model_path

    window.start_personalize(steps=50)
    assert window.personalize_cancel_button.isVisible() and not window.personalize_action.isEnabled()
    qtbot.waitUntil(lambda: window.personalize_label.text() == "Loading the model for training", timeout=QT_TIMEOUT_MS)
    with qtbot.waitSignal(window.relatedShown, timeout=QT_TIMEOUT_MS):  # the engine answers while the trainer runs
        window.show_note("Garden/Compost.md")
    assert window.related_panel.paths()

    with qtbot.waitSignal(window.session.personalizeFinished, timeout=QT_TIMEOUT_MS) as finished:
        window.cancel_personalize()
    assert finished.args[0].outcome == "cancelled"
    assert not window.personalize_cancel_button.isVisible() and window.personalize_action.isEnabled()
    assert "cancelled" in window.statusBar().currentMessage()
    with VaultIndex.open(linked_vault) as index:
        assert index.model_path == model
