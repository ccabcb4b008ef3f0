"""Personalize: fine-tune the vault's model on the vault itself, and keep it only if it finds the vault's links better.

    result = personalize("~/vault", steps=150, on_progress=print)
    if result.switched:
        ...  # reindex the vault: its notes are embedded by the personal model from now on

The related pairs are the vault's own links and the navigation between related notes the index records
(NoteLLM's co-occurrence signal). Every step runs `notellm-train` as a subprocess (`python -m
notellm.training.cli`), so the engine never imports torch:

1. `prepare`: link and navigation pairs, with 20% of the links held out (their text cut from the notes),
2. `train`: GCL, + CSFT when the model in use writes hashtags, starting from that model (resumable from its
   checkpoint; a bidirectional model stays bidirectional),
3. `export`: a Q8_0 GGUF the engine runs,
4. `evaluate`: the current model and the candidate on the held-out links, each as the related panel ranks them:
   fused with the words, the folders and the named notes, at the weighting and with the map the vault's other
   links choose for that model (`training/panel.py`), the notes already linked left out.

The candidate replaces the vault's model only if its panel finds the held-out links better (higher R@10, MRR
breaking ties): the panel is what the user sees, and a vault's map and weighting already learn from its links,
so a candidate that ranks better alone may add nothing there. It then lives in `<data dir>/models/personal/`
and becomes the model the vault's index remembers. Everything else is kept in `<index dir>/personalize/` (training log, evaluation reports), except
the large files (checkpoint, rejected candidate), which are deleted when the run is over.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .config import data_dir, make_private_dir
from .errors import NotEnoughPairsError, PersonalizeError, TrainingUnavailableError
from .lock import FileLock
from .model import model_traits
from .training_report import (
    CHECKPOINT_FILE,
    MANIFEST_FILE,
    RUN_CONFIG_FILE,
    TRAINING_LOG_FILE,
    DataManifest,
    LinkScores,
    RunIdentity,
    TrainingStep,
    VaultSummary,
)
from .vault_index import VaultIndex

DEFAULT_STEPS = 150
HOLDOUT = 0.2
# Fewer pairs give the in-batch contrastive loss hardly any negatives to learn from.
MIN_TRAINING_PAIRS = 10
CHECKPOINT_EVERY = 10  # steps; a cancelled or killed run resumes from the last checkpoint
TRAINING_MODULES = ("torch", "transformers", "peft", "accelerate")
INSTALL_HINT = "pip install 'notellm-desktop[train]'"
POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 10.0


def training_available() -> bool:
    """Whether the training extra is installed, found without importing it (cheap enough for a menu)."""
    if getattr(sys, "frozen", False):  # a bundled app has no Python interpreter to run the trainer with
        return False
    return all(importlib.util.find_spec(name) is not None for name in TRAINING_MODULES)


@dataclass
class PersonalizeProgress:
    stage: str  # "prepare", "train", "export", "evaluate"
    done: int
    total: int
    loss: float | None = None

    def describe(self) -> str:
        if self.stage == "prepare":
            return "Reading the vault's links and navigation"
        if self.stage == "train":
            loss = f" (loss {self.loss:.3f})" if self.loss is not None else ""
            return f"Training step {self.done} / {self.total}{loss}" if self.done else "Loading the model for training"
        if self.stage == "export":
            return "Writing the personal model"
        return f"Comparing the models on the held-out links ({self.done} / {self.total})"


@dataclass
class PersonalizeResult:
    vault: str
    outcome: str  # "switched" (the personal model is the vault's model now), "kept" (it was not better), "cancelled"
    model: str  # the vault's model after this run
    previous_model: str
    previous_scores: LinkScores | None  # the related panel on the held-out links, by which the run decides
    personal_scores: LinkScores | None
    previous_model_scores: LinkScores | None  # the model's ranking alone on the same links
    personal_model_scores: LinkScores | None
    training_pairs: dict[str, int]  # kind ("link", "cooccurrence") -> count
    heldout_links: int
    steps: int  # steps trained in all, earlier resumed ones included
    resumed_from_step: int
    work_dir: str  # training log and evaluation reports
    seconds: float

    @property
    def switched(self) -> bool:
        return self.outcome == "switched"

    def as_dict(self) -> dict:
        return asdict(self)


Progress = Callable[[PersonalizeProgress], None]


class _Cancelled(Exception):
    pass


class _Trainer:
    """Runs `notellm-train` stages as subprocesses, each with its output in WORK/<name>.log."""

    def __init__(self, work: Path, should_stop: Callable[[], bool] | None):
        self.work, self.should_stop = work, should_stop

    def run(self, command: str, arguments: list, name: str | None = None, poll: Callable[[], None] | None = None) -> None:
        """`notellm-train COMMAND ARGUMENTS`, polling `should_stop` and `poll` while it runs; its output in WORK/NAME.log."""
        name = name or command
        argv = [sys.executable, "-m", "notellm.training.cli", command, *(str(a) for a in arguments)]
        output = self.work / f"{name}.log"
        with open(output, "w", encoding="utf-8") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            try:
                while process.poll() is None:
                    if self.should_stop and self.should_stop():
                        raise _Cancelled()
                    if poll:
                        poll()
                    time.sleep(POLL_SECONDS)
            finally:
                if process.poll() is None:  # cancelled, or the caller was interrupted (Ctrl-C)
                    process.terminate()
                    try:
                        process.wait(STOP_GRACE_SECONDS)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
        if poll:
            poll()
        if process.returncode != 0:
            raise PersonalizeError(f"{name} failed: {_error_line(output)} (full output in {output})")


def _error_line(output: Path) -> str:
    """The message of click's `Error: …` line if there is one, else the last line printed."""
    lines = [line.strip() for line in output.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    if errors:
        return errors[-1].removeprefix("Error:").strip()
    return lines[-1] if lines else "no output"


class _TrainingLog:
    """Follows the run's training log (one `TrainingStep` line per finished step) as training appends to it."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0
        self.step, self.loss = 0, None

    def read(self) -> bool:
        """Take in the steps logged since the last read; whether there were any."""
        if not self.path.exists():
            return False
        step = self.step
        with open(self.path, encoding="utf-8") as handle:
            handle.seek(self.offset)
            for line in handle:
                if not line.endswith("\n"):  # a step still being written: read it next time
                    break
                self.offset += len(line.encode("utf-8"))
                entry = TrainingStep.parse(line)
                self.step, self.loss = entry.step, entry.loss
        return self.step != step


def _resumable(run: Path, base_model: Path, content_tokens: int) -> bool:
    """A checkpoint left by a cancelled or killed run on the same model and prompt length."""
    if not (run / CHECKPOINT_FILE).exists() or not (run / RUN_CONFIG_FILE).exists():
        return False
    return RunIdentity.read(run) == RunIdentity(base=str(base_model), content_tokens=content_tokens)


def _remove_candidates(work: Path) -> None:
    """The candidate GGUF, export's F32 temporary and any half-written file."""
    for path in work.glob("candidate*.gguf*"):
        path.unlink()


def personalize(
    vault: str | Path,
    steps: int = DEFAULT_STEPS,
    threads: int | None = None,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PersonalizeResult:
    """Fine-tune the vault's current model on the vault and switch to it if the related panel finds held-out links
    better with it.

    Takes about 6-7 s per step on a 2-core CPU (measured 2026-12-02), plus a few minutes to export and compare. `should_stop`
    is polled twice a second: the running stage is stopped, the current model stays, and the next call
    resumes training from its last checkpoint. The vault's notes are only read, and the index's writer
    lock is not held, so indexing and the app carry on meanwhile; the switch takes effect when the index
    is next opened (reindex then re-embeds every note).

    Raises TrainingUnavailableError without the training extra, NotEnoughPairsError when the vault has too
    few links or recorded navigation, PersonalizeError when a stage fails or another run is in progress.
    """
    if not training_available():
        raise TrainingUnavailableError(f"personalizing needs the training extra (torch, transformers, peft): {INSTALL_HINT}")
    started = time.monotonic()
    with VaultIndex.open(vault) as index:
        vault_path, base_model, content_tokens, index_dir = index.vault, index.model_path, index.content_tokens, index.index_dir
    lock = FileLock(index_dir / "personalize.lock")
    if not lock.acquire():
        raise PersonalizeError(f"{vault_path} is already being personalized by another NoteLLM process ({lock.holder()})")
    try:
        return _personalize(vault_path, base_model, content_tokens, index_dir, steps, threads, on_progress, should_stop, started)
    finally:
        lock.release()


def _personalize(vault: Path, base_model: Path, content_tokens: int, index_dir: Path, steps: int, threads: int | None,
                 on_progress: Progress | None, should_stop: Callable[[], bool] | None, started: float) -> PersonalizeResult:
    work = index_dir / "personalize"
    data, run, candidate = work / "data", work / "run", work / "candidate.gguf"
    report = on_progress or (lambda progress: None)
    resuming = _resumable(run, base_model, content_tokens)
    if not resuming:
        shutil.rmtree(work, ignore_errors=True)  # an earlier run's log and reports, or a checkpoint on another model
    work.mkdir(parents=True, exist_ok=True)
    trainer = _Trainer(work, should_stop)
    thread_options = ["--threads", threads] if threads else []
    log = _TrainingLog(run / TRAINING_LOG_FILE)
    log.read()
    resumed_from = log.step

    def result(outcome: str, model: Path, scores: dict | None = None) -> PersonalizeResult:
        manifest = DataManifest.read(data) if (data / MANIFEST_FILE).exists() else None
        scores = scores or {}
        return PersonalizeResult(
            vault=str(vault), outcome=outcome, model=str(model), previous_model=str(base_model),
            previous_scores=scores.get(("previous", "panel")), personal_scores=scores.get(("personal", "panel")),
            previous_model_scores=scores.get(("previous", "model")), personal_model_scores=scores.get(("personal", "model")),
            training_pairs=_only_vault(manifest).train_pairs if manifest else {},
            heldout_links=manifest.heldout_pairs if manifest else 0, steps=log.step, resumed_from_step=resumed_from,
            work_dir=str(work), seconds=round(time.monotonic() - started, 1),
        )

    try:
        if not (resuming and (data / MANIFEST_FILE).exists()):
            report(PersonalizeProgress("prepare", 0, 1))
            trainer.run("prepare", [vault, "-o", data, "--holdout", HOLDOUT])
        _check_enough_pairs(vault, data)

        def follow_training() -> None:
            if log.read():
                report(PersonalizeProgress("train", log.step, steps, log.loss))

        report(PersonalizeProgress("train", log.step, steps, log.loss))
        # A model that does not write learns the embedding only (its export could not write either), a
        # bidirectional one stays so (training.train.check_attention), and so does one prompted with a keyword line;
        # the pooling and the folder line are the base's (training.train.check_pooling).
        traits = model_traits(base_model)
        trait_options = (([] if traits.writes_topics else ["--alpha", "0"]) + ([] if traits.causal_attention else ["--bidirectional"])
                         + (["--keyword-line", str(traits.keyword_line)] if traits.keyword_line else [])
                         + (["--folder-line"] if traits.folder_line else [])
                         + ["--pooling", traits.pooling])
        trainer.run("train", [
            data, "-o", run, "--base", base_model, "--tokenizer-gguf", base_model, "--steps", steps,
            "--content-tokens", content_tokens, "--checkpoint-every", CHECKPOINT_EVERY, "--quiet",
            *thread_options, *trait_options, *(["--resume"] if resuming else []),
        ], poll=follow_training)

        report(PersonalizeProgress("export", 0, 1))
        trainer.run("export", [run, "-o", candidate, "--quant", "q8_0", *thread_options])

        scores = {}
        for done, (name, model) in enumerate((("previous", base_model), ("personal", candidate))):
            report(PersonalizeProgress("evaluate", done, 2))
            trainer.run("evaluate", [
                model, data, "--content-tokens", content_tokens, "--tag-notes", 0,
                *thread_options, "--json", work / f"evaluate-{name}.json",
            ], name=f"evaluate-{name}")
            for view in ("panel", "model"):
                scores[name, view] = LinkScores.read(work / f"evaluate-{name}.json", view)
    except _Cancelled:
        _remove_candidates(work)  # the checkpoint stays: the next run resumes from it
        return result("cancelled", base_model)
    except BaseException:
        _remove_candidates(work)
        raise

    model = base_model
    if scores["personal", "panel"].beats(scores["previous", "panel"]):
        model = data_dir() / "models" / "personal" / f"{index_dir.name}.gguf"
        make_private_dir(model.parent)  # trained on private notes, and may be what creates NOTELLM_HOME
        os.replace(candidate, model)  # on the same file system as the index folder: atomic
        with VaultIndex.open(vault, model=model) as index:  # the model the vault uses from now on
            index.remember_settings()
    _remove_candidates(work)
    (run / CHECKPOINT_FILE).unlink(missing_ok=True)  # finished: the next run starts afresh
    return result("switched" if model != base_model else "kept", model, scores)


def _only_vault(manifest: DataManifest) -> VaultSummary:
    """The one vault personalize prepares."""
    return next(iter(manifest.vaults.values()))


def _check_enough_pairs(vault: Path, data: Path) -> None:
    manifest = DataManifest.read(data)
    pairs = _only_vault(manifest).train_pairs
    training, heldout = sum(pairs.values()), manifest.heldout_pairs
    if training >= MIN_TRAINING_PAIRS and heldout >= 1:
        return
    raise NotEnoughPairsError(
        f"{vault} has too few related notes to personalize on: {pairs.get('link', 0)} link pairs and "
        f"{pairs.get('cooccurrence', 0)} navigation pairs to train on, {heldout} held-out links to compare the models "
        f"with; it needs at least {MIN_TRAINING_PAIRS} pairs and 1 held-out link. Link notes to each other "
        "([[wikilinks]] or Markdown links), or follow related notes in the app (each move is recorded)"
    )
