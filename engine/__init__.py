"""The NoteLLM engine: index a Markdown vault with a NoteLLM model through llama.cpp.

No Qt and no torch here; the app and training build on this package.
"""

from .errors import (
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
from .store import NoteRow
from .vault_index import IndexStatus, ReindexSummary, RelatedNote, SearchHit, VaultIndex, describe_model

__all__ = [
    "VaultIndex",
    "ReindexSummary",
    "RelatedNote",
    "SearchHit",
    "IndexStatus",
    "NoteRow",
    "describe_model",
    "NoteLLMError",
    "VaultNotFoundError",
    "NoteNotFoundError",
    "NoteChangedError",
    "ModelError",
    "IndexLockedError",
    "IndexCorruptError",
    "TrainingUnavailableError",
    "PersonalizeError",
    "NotEnoughPairsError",
]
