"""Errors the engine raises for callers to catch; each message says what to do next."""


class NoteLLMError(Exception):
    """Base class: something the user can act on, shown without a traceback."""


class VaultNotFoundError(NoteLLMError):
    pass


class NoteNotFoundError(NoteLLMError):
    pass


class NoteChangedError(NoteLLMError):
    pass


class ModelError(NoteLLMError):
    pass


class ModelMismatchError(NoteNotFoundError):
    """The index's vectors were made by another model than the one asked for, so its notes can't be
    compared with that model's; `reindex --model` switches the index. A NoteNotFoundError: for this
    model the notes are not indexed yet, and a caller that waits for the index (the app) waits the same."""


class IndexLockedError(NoteLLMError):
    pass


class IndexCorruptError(NoteLLMError):
    """The index's SQLite file is damaged; `VaultIndex.open(..., rebuild=True)` (`reindex --rebuild`) starts afresh."""


class WriteRefusedError(NoteLLMError):
    """NoteLLM will not write this file: it is reached through a symlink, or its real path is outside the
    vault; or it will not keep its index among the vault's own files (`--index-dir` in a visible folder of it)."""


class DiskFullError(NoteLLMError):
    """A write failed for lack of space; the index is intact (each write is one transaction), so freeing
    space and running the command again is all it takes."""


class DiskError(NoteLLMError):
    """The index's files could not be read or written: a failing disk, or their permissions (neither a full
    disk nor a damaged file, so `--rebuild` would not help)."""


class ReadOnlyIndexError(NoteLLMError):
    """A command needs to write the index, and its folder or file is read-only."""


class TagRejectedError(NoteLLMError):
    """None of the tags given can be written as a tag (each one's reason is in the message)."""


class TrainingUnavailableError(NoteLLMError):
    """Personalizing needs the training extra (torch, transformers, peft), which is not installed."""


class PersonalizeError(NoteLLMError):
    """Personalizing could not finish: a training step failed, or another one is running for this vault."""


class NotEnoughPairsError(PersonalizeError):
    """The vault has too few links or recorded navigation to train on and to compare models with."""
