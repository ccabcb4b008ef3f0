"""The hashtag writer: a NoteLLM model trained with CSFT that writes a note's topics, run through llama.cpp.

The embedding model can stay small (a cut of the base's first blocks) while hashtags come from a model of full
depth, trained to write (`notellm-train writer-data`, then `train --gen-fraction 1`); an opt-in that
`$NOTELLM_WRITER` names (`config.resolve_writer` says why). It runs for one note at a time, the note on screen,
so it loads one context of one prompt plus its answer.

In the engine it judges rather than writes (`rank_tags`): left to write freely, it copied its training
collections' house labels onto unseen vaults, while ordering the note's own candidate words by how likely it is
to write each one raised precision on the untagged protocol (docs/experiments.md, 2026-12-03).
An embedding model that was trained to write (`ModelTraits.writes_topics`) writes the same way
(`engine.model.NoteModel.generate_topics`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import cpu_kernels
from .cpu import physical_cores
from .errors import ModelError
from .generation import GENERATION_TOKENS, continue_prompt
from .markdown import INLINE_TAG
from .model import read_model_header
from .prompt import DEFAULT_CONTENT_TOKENS, PROMPT_VERSION, llama_prompt_tokenizer, max_prompt_tokens, topics_answer, topics_cue


# What follows a tag that is not the answer's last: the candidate is a whole tag, not the start of a longer one.
TAG_END = ","


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
                logits_all=True,  # rank_tags reads the logits of every token of a candidate
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(f"llama.cpp could not load {self.path} ({error})") from error
        self.tokenizer = llama_prompt_tokenizer(self.llama, header.traits.keyword_line, header.traits.folder_line)

    def write_topics(self, title: str, text: str, count: int, should_stop: Callable[[], bool] | None = None,
                     folder: str = "") -> str:
        """The writer's answer for one note in `folder`: `#topic, #topic, …` as it wrote it (`engine.hashtags.parse_topics`
        reads it). It reads the note without its inline #tags, as it was trained (`training.data.writer_data`)."""
        return continue_prompt(self.llama, self.tokenizer, self._prompt(title, text, count, folder), should_stop)

    def rank_tags(self, title: str, text: str, tags: Sequence[str], count: int,
                  should_stop: Callable[[], bool] | None = None, folder: str = "") -> list[str]:
        """`tags` best first by `tag_scores`; ties keep their order. `should_stop()` is asked before each candidate;
        True ends it early, those not judged last."""
        scores = self.tag_scores(title, text, tags, count, should_stop, folder)
        return sorted(scores, key=lambda tag: -scores[tag]) + [tag for tag in dict.fromkeys(tags) if tag not in scores]

    def tag_scores(self, title: str, text: str, tags: Sequence[str], count: int,
                   should_stop: Callable[[], bool] | None = None, folder: str = "") -> dict[str, float]:
        """{tag: the writer's log-probability of writing it as the first of the note's `count` topics}: ` #tag,`
        after the cue, which a tag of several tokens pays for in full."""
        prompt = self._prompt(title, text, count, folder)
        head = self.tokenizer.tokenize(prompt)
        self.llama.reset()
        self.llama.eval(head)
        scores = {}
        for tag in dict.fromkeys(tags):
            if should_stop and should_stop():
                break
            with_tag = self.tokenizer.tokenize(prompt + topics_answer([tag]) + TAG_END)
            answer = with_tag[len(head):] if with_tag[:len(head)] == head else self.tokenizer.tokenize_plain(topics_answer([tag]) + TAG_END)
            self.llama.n_tokens = len(head)  # llama.cpp drops the previous candidate's cells on the next eval
            self.llama.eval(answer)
            logits = np.asarray(self.llama.scores[len(head) - 1:len(head) - 1 + len(answer)], dtype=np.float64)
            peak = logits.max(axis=1, keepdims=True)
            log_norm = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
            scores[tag] = float(np.sum(logits[np.arange(len(answer)), answer] - log_norm))
        return scores

    def _prompt(self, title: str, text: str, count: int, folder: str) -> str:
        return self.tokenizer.note_prompt(title, INLINE_TAG.sub("", text), self.content_tokens, folder) + topics_cue(count)

    def close(self) -> None:
        self.llama.close()
