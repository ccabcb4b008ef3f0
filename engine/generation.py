"""Greedy generation of a note's answer (CSFT's task) on a loaded llama.cpp model: one rule for every model that writes."""

from __future__ import annotations

from typing import Callable

from .prompt import PromptTokenizer

GENERATION_TOKENS = 48
# Where the answer ends: a new line, or the model starting another task's cue.
STOP_TEXTS = ["\n", ". The "]


def continue_prompt(llama, tokenizer: PromptTokenizer, prompt: str, should_stop: Callable[[], bool] | None = None) -> str:
    """Greedy continuation of `prompt` on a loaded `llama_cpp.Llama`; `should_stop()` is asked after every token
    and True ends it early (returning what there is)."""
    import llama_cpp

    llama.reset()
    stopping = llama_cpp.StoppingCriteriaList([lambda tokens, logits: bool(should_stop())]) if should_stop else None
    output = llama.create_completion(
        tokenizer.tokenize(prompt), max_tokens=GENERATION_TOKENS, temperature=0.0, top_k=1, stop=STOP_TEXTS, echo=False,
        stopping_criteria=stopping,
    )
    return output["choices"][0]["text"]
