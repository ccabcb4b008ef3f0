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
