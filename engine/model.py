"""A NoteLLM model file run through llama.cpp: note embeddings and hashtag generation.

One GGUF is one model. Besides the language model it may carry, in its metadata,
`notellm.projection` (the trained linear head, row-major d x hidden), `notellm.prompt_version`, its traits
(`gguf_metadata.ModelTraits`) and a tag head (`engine.tag_head`); a plain base model (zero-shot) has none
of them and its embedding is the normalised hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import cpu_kernels
from .cpu import physical_cores
from .errors import ModelError
from .generation import GENERATION_TOKENS, continue_prompt
from .gguf_metadata import (
    PROJECTION_KEY,
    PROJECTION_ROWS_KEY,
    PROMPT_VERSION_KEY,
    TAG_HEAD_TAGS_KEY,
    TAG_HEAD_VECTORS_KEY,
    TRAIT_KEYS,
    GGUFFormatError,
    ModelTraits,
    read_metadata,
)
from .llama_batch_embedder import BatchEmbedder
from .logit_readout import LogitReadout
from .pooling import POOLINGS
from .prompt import (
    DEFAULT_CONTENT_TOKENS,
    PROMPT_HEAD,
    PROMPT_VERSION,
    PromptTokenizer,
    category_cue,
    llama_prompt_tokenizer,
    max_prompt_tokens,
    topics_cue,
)
from .tag_head import TagHead

SEQUENCES_PER_DECODE = 8


def _read_fields(path: Path, keys: set[str]) -> dict:
    try:
        return read_metadata(path, keys)
    except (OSError, GGUFFormatError) as error:
        raise ModelError(f"{path} is not a readable GGUF model file ({error})") from error


@dataclass(frozen=True)
class ModelHeader:
    """What a NoteLLM model file says of itself in its metadata, read in one pass over its header."""

    architecture: str
    projection: np.ndarray | None  # the trained linear head; None for a base model
    prompt_version: int | None
    traits: ModelTraits
    tag_head: TagHead | None  # the tags it names from its embedding (`engine.tag_head`); None when it has none


HEADER_KEYS = {"general.architecture", PROJECTION_KEY, PROJECTION_ROWS_KEY, PROMPT_VERSION_KEY, TAG_HEAD_TAGS_KEY,
               TAG_HEAD_VECTORS_KEY, *TRAIT_KEYS}


def read_model_header(path: Path) -> ModelHeader:
    """Everything `ModelHeader` holds, from one walk over the GGUF's metadata (ModelError when it is unreadable)."""
    fields = _read_fields(path, HEADER_KEYS)
    version = int(fields[PROMPT_VERSION_KEY]) if PROMPT_VERSION_KEY in fields else None
    projection = None
    if PROJECTION_KEY in fields:
        rows = int(fields[PROJECTION_ROWS_KEY])
        projection = np.asarray(fields[PROJECTION_KEY], dtype=np.float32).reshape(rows, -1)
    tag_head = None
    if TAG_HEAD_TAGS_KEY in fields:
        try:
            tag_head = TagHead.from_metadata(fields[TAG_HEAD_TAGS_KEY], fields.get(TAG_HEAD_VECTORS_KEY, ()))
        except ValueError as error:
            raise ModelError(f"{path} has a damaged tag head ({error})") from error
    return ModelHeader(str(fields.get("general.architecture", "llama")), projection, version,
                       ModelTraits.from_metadata(fields), tag_head)


def read_notellm_metadata(path: Path) -> tuple[str, np.ndarray | None, int | None]:
    """(architecture, projection matrix or None, prompt version or None) from a GGUF's metadata."""
    header = read_model_header(path)
    return header.architecture, header.projection, header.prompt_version


def model_traits(path: Path) -> ModelTraits:
    """Whether a GGUF's model writes topics and runs causally (a base model or an older NoteLLM: both)."""
    return read_model_header(path).traits


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NoteModel:
    """Loads a GGUF once for embeddings (each prompt's last token or its pooled own tokens, `engine.logit_readout`);
    a second context generates hashtags on demand."""

    def __init__(self, path: Path, threads: int | None = None, content_tokens: int = DEFAULT_CONTENT_TOKENS):
        import llama_cpp

        self.path = Path(path)
        self.threads = threads or physical_cores()
        # Room for one prompt, in whole 256-token blocks: llama-cpp-python sizes its first context for
        # 256 sequences and llama.cpp warns on stderr unless the context divides evenly among them.
        self.sequence_tokens = -(-max_prompt_tokens(content_tokens) // 256) * 256
        header = read_model_header(self.path)
        self.projection, version = header.projection, header.prompt_version
        if version is not None and version != PROMPT_VERSION:
            raise ModelError(
                f"{self.path.name} was trained for prompt version {version}, this NoteLLM uses {PROMPT_VERSION}; "
                "use a matching release or retrain"
            )
        traits = header.traits
        if traits.pooling not in POOLINGS:
            raise ModelError(f"{self.path.name} pools its embedding by {traits.pooling!r}, which this NoteLLM does not know; "
                             "use a matching release")
        try:
            cpu_kernels.load()  # a build with one library per instruction set has none until then
            self.llama = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.sequence_tokens,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
            )
            self.embedder = BatchEmbedder(self.llama, SEQUENCES_PER_DECODE, self.sequence_tokens, traits.causal_attention,
                                          traits.pooling)
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(f"llama.cpp could not load {self.path} ({error})") from error
        self.hidden_size = self.llama.n_embd()
        if self.projection is not None and self.projection.shape[1] != self.hidden_size:
            raise ModelError(f"{self.path.name}: projection expects {self.projection.shape[1]} inputs, model has {self.hidden_size}")
        self.dimensions = self.projection.shape[0] if self.projection is not None else self.hidden_size
        self.tokenizer: PromptTokenizer = llama_prompt_tokenizer(self.llama, traits.keyword_line, traits.folder_line)
        self.embedder.set_head(self.tokenizer.tokenize(PROMPT_HEAD))
        self.writes_topics = traits.writes_topics
        self.tag_head = header.tag_head
        if self.tag_head is not None and self.tag_head.dimensions != self.dimensions:
            raise ModelError(f"{self.path.name}: its tag head has {self.tag_head.dimensions} dimensions, its embedding {self.dimensions}")
        self._generator = None
        self._readout: LogitReadout | None = None

    def close(self) -> None:
        self.embedder.close()
        for llama in (self.llama, self._generator):
            if llama is not None:
                llama.close()
        self._generator = None

    # --- embeddings -------------------------------------------------------------------------
    def prompt_ids(self, title: str, text: str, content_tokens: int, folder: str = "") -> list[int]:
        ids = self.tokenizer.note_prompt_ids(title, text, content_tokens, folder)
        if len(ids) > self.sequence_tokens:  # too long for its cache: keep the ending, where the embedding is read
            ids = ids[: self.sequence_tokens - 1] + ids[-1:]
        return ids

    def embed_notes(self, notes: Sequence[tuple[str, str] | tuple[str, str, str]], content_tokens: int) -> np.ndarray:
        """Embed (title, text) or (title, text, folder) notes (the folder as `engine.vault.folder_of` writes it, read
        by a model with the folder-line trait): the hidden state at the prompt's last token (or the model's pooling
        of its own tokens' states, `engine.pooling`), projected, L2-normalised."""
        return self.embed_token_ids([self.prompt_ids(note[0], note[1], content_tokens, *note[2:]) for note in notes])

    def embed_token_ids(self, prompts: list[list[int]]) -> np.ndarray:
        """Up to SEQUENCES_PER_DECODE prompts per llama.cpp decode, the shared prompt head computed once."""
        if not prompts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return normalise(self.embedder.embed(prompts, self.readout))

    @property
    def readout(self) -> LogitReadout:
        """Built from the model file on the first embedding (about a second), so a load that embeds nothing
        does not pay for it."""
        if self._readout is None:
            try:
                self._readout = LogitReadout.of_model(self.path, self.projection)
            except (OSError, GGUFFormatError, ValueError, np.linalg.LinAlgError) as error:
                raise ModelError(f"{self.path.name}: its output layer cannot be read back ({error})") from error
            if self._readout.vocabulary != self.embedder.vocabulary:
                raise ModelError(f"{self.path.name}: its output layer has {self._readout.vocabulary} rows, its vocabulary {self.embedder.vocabulary}")
        return self._readout

    def project(self, hidden: np.ndarray) -> np.ndarray:
        """A hidden state from elsewhere (llama-cpp-python's embedding mode, PyTorch) as this model's embedding."""
        if self.projection is not None:
            hidden = hidden @ self.projection.T
        return normalise(hidden).astype(np.float32)

    # --- hashtags ---------------------------------------------------------------------------
    @property
    def generator(self):
        if self._generator is None:
            import llama_cpp

            self._generator = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.sequence_tokens + GENERATION_TOKENS,
                n_batch=self.sequence_tokens,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
            )
        return self._generator

    def generate_topics(self, title: str, text: str, count: int, content_tokens: int, should_stop=None,
                        folder: str = "") -> str:
        """Greedy continuation of the prompt after `The <count> topics are:` (CSFT's task).

        `should_stop()` is asked after every token; True ends generation early (returns what there is)."""
        return self._continue(self.tokenizer.note_prompt(title, text, content_tokens, folder) + topics_cue(count), should_stop)

    def generate_category(self, title: str, text: str, content_tokens: int, folder: str = "") -> str:
        return self._continue(self.tokenizer.note_prompt(title, text, content_tokens, folder) + category_cue())

    def _continue(self, prompt: str, should_stop=None) -> str:
        return continue_prompt(self.generator, self.tokenizer, prompt, should_stop)
