"""The Note Compression Prompt of NoteLLM (arXiv 2403.01744, section 3.2) — the one source of truth.

A note becomes

    Extract the note information in json format, compress it into one word for recommendation,
    and generate topics of the note. {"title": "...", "content": "..."} The compression word is:"

and the final hidden state at the closing `"` is the note's embedding. For hashtags (CSFT) the
same text continues with `". The <j> topics are:` and the model writes the topics; a note whose
only label is its category continues with `". The category is:` instead. For a model trained with a
keyword line (`ModelTraits.keyword_line`), the content starts with the note's most frequent words; for a model
that reads folders (`ModelTraits.folder_line`), with the note's folder before those, as the paper's prompt
gives a note's category.

The engine embeds and generates with these strings; training builds its examples with them and
tokenizes through `PromptTokenizer`, so the token ids it learns from are the ones llama.cpp sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from .keywords import keywords

# Stored in every exported GGUF; a model trained on another prompt version must not be fed this one.
PROMPT_VERSION = 1
INSTRUCTION = (
    "Extract the note information in json format, compress it into one word for recommendation, "
    "and generate topics of the note."
)
COMPRESSION_CUE = ' The compression word is:"'
# How every note prompt starts, whatever the note: the engine decodes it once per model load.
PROMPT_HEAD = f'{INSTRUCTION} {{"title": "'
TITLE_TOKENS = 32
DEFAULT_CONTENT_TOKENS = 128
DEFAULT_TOPIC_COUNT = 5
INSTRUCTION_TOKENS = 64  # the instruction, JSON keys and cue, with room to spare for any tokenizer


def max_prompt_tokens(content_tokens: int) -> int:
    """An upper bound on a note prompt's length in tokens, for sizing llama.cpp's caches."""
    return content_tokens + TITLE_TOKENS + INSTRUCTION_TOKENS


def common_prefix_length(first: list[int], second: list[int]) -> int:
    """How many leading token ids two prompts share."""
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


def compression_prompt(title: str, content: str) -> str:
    note = json.dumps({"title": title, "content": content}, ensure_ascii=False)
    return f"{INSTRUCTION} {note}{COMPRESSION_CUE}"


def topics_cue(count: int) -> str:
    """What follows the compression prompt when the model is asked for `count` hashtags."""
    return f'". The {count} topics are:'


def category_cue() -> str:
    return '". The category is:'


def topics_answer(topics: list[str]) -> str:
    """The text the model learns to write after `topics_cue` (and that `parse_topics` reads back)."""
    return " " + ", ".join(f"#{topic}" for topic in topics)


def category_answer(category: str) -> str:
    return " " + category


def with_keyword_line(title: str, content: str, count: int) -> str:
    """The note's `count` most frequent content words, comma-separated on a line before its text (count 0: the text
    as it is): a summary of the whole note inside the prompt's token budget, which cuts a long note's text short."""
    line = ", ".join(keywords(title, content, count)) if count else ""
    return f"{line}\n\n{content}" if line else content


def readable_folder(folder: str) -> str:
    """A vault-relative folder as the prompt writes it: " / " between its parts."""
    return folder.replace("/", " / ")


def with_folder_line(content: str, folder: str) -> str:
    """The note's vault-relative folder (`engine.vault.folder_of`; '' at the vault's top, and for a search query),
    as `readable_folder` writes it, on a line before its content: a Markdown note's nearest thing to the category
    that NoteLLM's prompt reads."""
    return f"{readable_folder(folder)}\n\n{content}" if folder else content


@dataclass(frozen=True)
class PromptTokenizer:
    """Tokenize and truncate prompt text with one model's tokenizer (llama.cpp's, from the GGUF)."""

    tokenize: Callable[[str], list[int]]  # adds the model's BOS when it wants one
    tokenize_plain: Callable[[str], list[int]]  # no BOS: for measuring and cutting pieces
    detokenize: Callable[[list[int]], str]
    keyword_line: int = 0  # the model's trait (`ModelTraits.keyword_line`): its prompts start the text with its keywords
    folder_line: bool = False  # the model's trait (`ModelTraits.folder_line`): its prompts start with the note's folder

    def truncate(self, text: str, max_tokens: int) -> str:
        ids = self.tokenize_plain(text)
        if len(ids) <= max_tokens:
            return text
        return self.detokenize(ids[:max_tokens])

    def note_prompt(self, title: str, content: str, content_tokens: int = DEFAULT_CONTENT_TOKENS, folder: str = "") -> str:
        """The compression prompt of a note in `folder` (read only by a model with the folder-line trait)."""
        content = with_keyword_line(title, content, self.keyword_line)
        if self.folder_line:
            content = with_folder_line(content, folder)
        return compression_prompt(self.truncate(title, TITLE_TOKENS), self.truncate(content, content_tokens))

    def note_prompt_ids(self, title: str, content: str, content_tokens: int = DEFAULT_CONTENT_TOKENS,
                        folder: str = "") -> list[int]:
        return self.tokenize(self.note_prompt(title, content, content_tokens, folder))


def llama_prompt_tokenizer(llama, keyword_line: int = 0, folder_line: bool = False) -> PromptTokenizer:
    """A PromptTokenizer over a loaded `llama_cpp.Llama` (a vocab-only one is enough), for a model with those
    `keyword_line` and `folder_line` traits."""

    def detokenize(ids: list[int]) -> str:
        return llama.detokenize(ids).decode("utf-8", errors="ignore")

    return PromptTokenizer(
        tokenize=lambda text: llama.tokenize(text.encode("utf-8"), add_bos=True, special=False),
        tokenize_plain=lambda text: llama.tokenize(text.encode("utf-8"), add_bos=False, special=False),
        detokenize=detokenize,
        keyword_line=keyword_line,
        folder_line=folder_line,
    )
