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


class IndexLockedError(NoteLLMError):
    pass


class IndexCorruptError(NoteLLMError):
    pass


class TrainingUnavailableError(NoteLLMError):
    """Personalizing needs the training extra (torch, transformers, peft), which is not installed."""


class PersonalizeError(NoteLLMError):
    """Personalizing could not finish: a training step failed, or another one is running for this vault."""


class NotEnoughPairsError(PersonalizeError):
    """The vault has too few links or recorded navigation to train on and to compare models with."""
