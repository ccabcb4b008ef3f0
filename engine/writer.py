"""The hashtag writer: a NoteLLM model trained with CSFT that writes a note's topics, run through llama.cpp.

The embedding model can stay small (a cut of the base's first blocks) while hashtags come from a model of full
depth, trained to write (`notellm-train writer-data`, then `train --gen-fraction 1`); an opt-in that
`$NOTELLM_WRITER` names (`config.resolve_writer` says why). It runs for one note at a time, the note on screen, so it loads only what generation needs: one context of one prompt plus its answer.
An embedding model that was trained to write (`ModelTraits.writes_topics`) writes the same way
(`engine.model.NoteModel.generate_topics`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import cpu_kernels
from .cpu import physical_cores
from .errors import ModelError
from .generation import GENERATION_TOKENS, continue_prompt
from .markdown import INLINE_TAG
from .model import read_model_header
from .prompt import DEFAULT_CONTENT_TOKENS, PROMPT_VERSION, llama_prompt_tokenizer, max_prompt_tokens, topics_cue


class HashtagWriter:
    """Loads a writer GGUF once; `write_topics` continues a note's prompt after `The <count> topics are:`."""

    def __init__(self, path: Path, threads: int | None = None, content_tokens: int = DEFAULT_CONTENT_TOKENS):
        import llama_cpp

        self.path = Path(path)
        self.content_tokens = content_tokens
        header = read_model_header(self.path)
        if header.prompt_version is None or not header.traits.writes_topics:
            raise ModelError(f"{self.path.name} is not a NoteLLM model trained to write hashtags")
        if header.prompt_version != PROMPT_VERSION:
            raise ModelError(f"{self.path.name} was trained for prompt version {header.prompt_version}, "
                             f"this NoteLLM uses {PROMPT_VERSION}")
        try:
            cpu_kernels.load()
            self.llama = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=max_prompt_tokens(content_tokens) + GENERATION_TOKENS,
                n_batch=max_prompt_tokens(content_tokens),
                n_threads=threads or physical_cores(),
                n_threads_batch=threads or physical_cores(),
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(f"llama.cpp could not load {self.path} ({error})") from error
        self.tokenizer = llama_prompt_tokenizer(self.llama)

    def write_topics(self, title: str, text: str, count: int, should_stop: Callable[[], bool] | None = None) -> str:
        """The writer's answer for one note: `#topic, #topic, …` as it wrote it (`engine.hashtags.parse_topics` reads it).
        It reads the note without its inline #tags, as it was trained (`training.data.writer_data`)."""
        prompt = self.tokenizer.note_prompt(title, INLINE_TAG.sub("", text), self.content_tokens) + topics_cue(count)
        return continue_prompt(self.llama, self.tokenizer, prompt, should_stop)

    def close(self) -> None:
        self.llama.close()
