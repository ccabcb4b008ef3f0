"""Readable messages for the engine's errors, each with a way forward; never a traceback."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from notellm.engine import (
    IndexCorruptError,
    IndexLockedError,
    ModelError,
    NoteChangedError,
    NoteLLMError,
    NoteNotFoundError,
    NotEnoughPairsError,
    PersonalizeError,
    TrainingUnavailableError,
    VaultNotFoundError,
)

log = logging.getLogger(__name__)

# actions a dialog can offer; the main window knows how to do each
OPEN_FOLDER, OPEN_SETTINGS, RETRY, REBUILD = "open-folder", "open-settings", "retry", "rebuild"


@dataclass
class Problem:
    title: str
    text: str
    detail: str
    actions: list[tuple[str, str]]  # (button label, action)


def explain(error: BaseException, doing: str = "") -> Problem:
    detail = str(error)
    if isinstance(error, VaultNotFoundError):
        return Problem("Vault folder not found", "The notes folder is gone or was moved.", detail,
                       [("Open Another Folder…", OPEN_FOLDER)])
    if isinstance(error, ModelError):
        return Problem("The model could not be loaded", "NoteLLM needs a GGUF model file to read your notes.", detail,
                       [("Open Settings…", OPEN_SETTINGS), ("Retry", RETRY)])
    if isinstance(error, IndexLockedError):
        return Problem("The index is busy", "Another NoteLLM window or process is updating this vault's index.", detail,
                       [("Retry", RETRY)])
    if isinstance(error, IndexCorruptError):
        return Problem("The index can't be read",
                       "This vault's index file is damaged. Rebuilding it re-reads your notes (they are not changed); "
                       "the damaged file is kept beside the new one.", detail,
                       [("Rebuild Index", REBUILD), ("Retry", RETRY)])
    if isinstance(error, NoteChangedError):
        return Problem("The note changed on disk", "The note was edited while NoteLLM was writing to it; nothing was changed.",
                       detail + "\nThe view has been refreshed; try again.", [])
    if isinstance(error, NoteNotFoundError):
        return Problem("Note not available", "That note isn't in the index (yet).", detail, [])
    if isinstance(error, TrainingUnavailableError):
        return Problem("Training is not installed", "Personalizing the model needs NoteLLM's training extra.", detail, [])
    if isinstance(error, NotEnoughPairsError):
        return Problem("Not enough links to learn from", "This vault has too few linked notes to personalize the model.",
                       detail, [])
    if isinstance(error, PersonalizeError):
        return Problem("Personalizing stopped", "The model was not changed.", detail, [])
    if isinstance(error, NoteLLMError):
        return Problem("NoteLLM", detail, "", [])
    if isinstance(error, OSError):
        return Problem("File problem", f"NoteLLM could not {doing or 'access a file'}.", f"{error.strerror or error}: {error.filename or ''}", [])
    log.error("unexpected error%s", f" while trying to {doing}" if doing else "", exc_info=error)
    return Problem("Something went wrong", f"NoteLLM could not {doing or 'finish that'}.", f"{type(error).__name__}: {error}", [])
