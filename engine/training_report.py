"""The files `notellm-train` leaves behind for the engine, defined once: training writes them, personalize reads them.

Personalize runs the trainer as a subprocess (the engine never imports torch), so these files are all the
two share. With one definition a field renamed on either side fails loudly (a missing field raises
`TrainingReportError`) instead of quietly reading as absent.

- `DataManifest`: what `prepare` found in each vault (`manifest.json` of a data folder),
- `TrainingStep`: one finished step, a line appended to a run's `log.jsonl` as training goes,
- `RunIdentity`: what a run's checkpoint was trained for (part of the run's `config.json`),
- `LinkScores`: a model's ranking of the held-out links (the report `evaluate --json` writes).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

MANIFEST_FILE = "manifest.json"
TRAINING_LOG_FILE = "log.jsonl"
RUN_CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
# LinkScores field -> its key in a vault's row of the `evaluate` report (training/evaluate.py link_prediction)
EVALUATION_KEYS = {"recall_at_10": "R@10", "mrr": "MRR", "queries": "queries"}
PANEL_KEY = "panel"  # the same scores for the related panel's ranking, within a vault's row


class TrainingReportError(ValueError):
    """A training file lacks a field this version reads: written by another version of notellm-train."""


def _pick(keys: list[str], values: dict, source: str) -> dict:
    """`values` cut to `keys`: extra keys are ignored, a missing one is an error."""
    missing = [key for key in keys if key not in values]
    if missing:
        raise TrainingReportError(f"{source} has no {', '.join(missing)}")
    return {key: values[key] for key in keys}


def _fields_of(cls, values: dict, source: str) -> dict:
    """A dataclass's fields from `values`: a field with a default (added since) may be missing."""
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    optional = {f.name: values[f.name] for f in fields(cls) if f.name not in required and f.name in values}
    return {**_pick(required, values, source), **optional}


def write_manifest(folder: Path, values: dict) -> None:
    """A data folder's manifest: a `DataManifest`'s fields, and whatever an experiment adds beside them."""
    (Path(folder) / MANIFEST_FILE).write_text(json.dumps(values, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class VaultSummary:
    path: str
    notes: int
    train_pairs: dict[str, int]  # kind ("link", "cooccurrence", "tag") -> pairs to train on
    heldout_links: int
    csft: dict[str, int]  # generation target ("topics", "category", "none") -> notes


@dataclass
class DataManifest:
    config: dict  # the PrepareConfig the folder was prepared with
    vaults: dict[str, VaultSummary]
    notes: int
    train_pairs: int
    heldout_pairs: int

    @classmethod
    def read(cls, folder: Path) -> "DataManifest":
        path = Path(folder) / MANIFEST_FILE
        values = _fields_of(cls, json.loads(path.read_text(encoding="utf-8")), str(path))
        values["vaults"] = {name: VaultSummary(**_fields_of(VaultSummary, summary, f"{path} ({name})"))
                            for name, summary in values["vaults"].items()}
        return cls(**values)


@dataclass
class TrainingStep:
    step: int  # steps finished in all, counting from 1
    loss: float
    contrastive: float
    generation: float
    scale: float  # the contrastive loss's learned temperature
    lr: float
    seconds: float
    distillation: float = 0.0  # the teacher-similarity term (`--teacher`); 0 without one

    def line(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def parse(cls, line: str) -> "TrainingStep":
        return cls(**_fields_of(cls, json.loads(line), TRAINING_LOG_FILE))


@dataclass(frozen=True)
class RunIdentity:
    """A checkpoint resumes only for the same base model and prompt length: the rest of the config may differ."""

    base: str
    content_tokens: int

    @classmethod
    def read(cls, run: Path) -> "RunIdentity":
        path = Path(run) / RUN_CONFIG_FILE
        return cls(**_fields_of(cls, json.loads(path.read_text(encoding="utf-8")), str(path)))


@dataclass
class LinkScores:
    """How well a model ranks the held-out links: each link's source note looks for its target among all notes."""

    recall_at_10: float
    mrr: float
    queries: int

    def beats(self, other: "LinkScores") -> bool:
        return (self.recall_at_10, self.mrr) > (other.recall_at_10, other.mrr)

    @classmethod
    def read(cls, report_path: Path, view: str = "model") -> "LinkScores":
        """The first vault that has held-out links in an `evaluate --json` report: the model's ranking alone, or
        with `view="panel"` the related panel's (the model fused as the app fuses it, `training/panel.py`)."""
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
        row = next((row for row in report["links"] if row.get("queries")), None)
        if row is None:
            raise TrainingReportError(f"{report_path} scores no held-out link")
        if view == "panel":
            row = {**_pick([PANEL_KEY], row, str(report_path))[PANEL_KEY], "queries": row["queries"]}
        values = _pick(list(EVALUATION_KEYS.values()), row, str(report_path))
        return cls(**{name: values[key] for name, key in EVALUATION_KEYS.items()})
