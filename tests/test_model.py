"""The engine's llama.cpp model: the shared prompt head is computed once and changes no vector."""

from __future__ import annotations

from dataclasses import replace

import llama_cpp
import numpy as np
import pytest

from notellm.engine.llama_batch_embedder import WRITTEN_FOR
from notellm.engine.model import SEQUENCES_PER_DECODE, NoteModel
from notellm.engine.prompt import PROMPT_HEAD, PromptTokenizer, common_prefix_length, compression_prompt, with_keyword_line

NOTES = [
    ("Sourdough", "Feed the starter flour and water every day and keep it warm."),
    ("Eigenvalues", "An eigenvector of a matrix keeps its direction under the linear map."),
    ('"Quoted" [draft]', "A title that starts with punctuation, so its first token may merge with the head's quote."),
    ("", ""),
    ("Заметка", "Русский текст заметки о линейной алгебре."),
    ("笔记", "线性代数的向量和矩阵。"),
] * 2  # more notes than one decode holds, so a second batch reuses the streams of the first


def test_llama_cpp_python_is_the_version_the_batch_embedder_was_written_for():
    # BatchEmbedder builds llama.cpp contexts and batches below llama-cpp-python's public API; an upgrade
    # must be a deliberate step that reruns this file's parity test.
    assert llama_cpp.__version__ == WRITTEN_FOR


def test_a_keyword_line_puts_the_whole_notes_words_inside_the_token_budget():
    """A model trained with `--keyword-line N` reads the note's N most frequent content words before its text
    (`ModelTraits.keyword_line`), so a word that only the note's end repeats still reaches its prompt."""
    words = PromptTokenizer(tokenize=str.split, tokenize_plain=str.split, detokenize=" ".join)
    text = "Bread needs flour water and salt. " * 2 + "Fermentation time matters; fermentation temperature too; fermentation."
    assert "fermentation" not in words.note_prompt("Sourdough", text, 10).lower()
    with_line = replace(words, keyword_line=3).note_prompt("Sourdough", text, 10)
    # most frequent first (title words count twice), ties in reading order
    assert '"content": "fermentation, sourdough, bread Bread needs' in with_line
    assert with_keyword_line("Sourdough", text, 0) == text and with_keyword_line("", "a an the", 3) == "a an the"


def test_a_model_that_reads_folders_gets_the_notes_folder_before_its_words():
    """The paper's prompt reads a note's category; a Markdown note's is its folder (`ModelTraits.folder_line`). A model
    without the trait never sees it, and a note at the vault's top (or a search query) has none to give."""
    words = PromptTokenizer(tokenize=str.split, tokenize_plain=str.split, detokenize=" ".join)
    text = "Feed the starter every day."
    assert words.note_prompt("Sourdough", text, 20, folder="Kitchen/Bread") == words.note_prompt("Sourdough", text, 20)
    reads = replace(words, folder_line=True)
    assert '"content": "Kitchen / Bread\\n\\nFeed the starter' in reads.note_prompt("Sourdough", text, 20, folder="Kitchen/Bread")
    assert reads.note_prompt("Sourdough", text, 20, folder="") == words.note_prompt("Sourdough", text, 20)
    # the folder is read before the keyword line, and the keywords are the note's own words, not the folder's
    both = replace(reads, keyword_line=2).note_prompt("Sourdough", text, 20, folder="Kitchen")
    assert '"content": "Kitchen\\n\\nsourdough, feed\\n\\nFeed' in both
    # a long note's text is cut, not its folder line
    assert '"content": "Kitchen Feed the"' in reads.note_prompt("Sourdough", text, 3, folder="Kitchen")


def test_every_prompt_starts_with_the_head_the_engine_caches():
    for title, text in NOTES:
        assert compression_prompt(title, text).startswith(PROMPT_HEAD)
    assert common_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix_length([], [1]) == 0


def test_a_pooled_embedding_weighs_the_notes_own_tokens_after_the_shared_head():
    from notellm.engine.pooling import note_tokens_start, pooling_weights

    head = [1, 7, 7, 9]
    assert note_tokens_start(head, [1, 7, 7, 9, 4, 5]) == 4  # the note's own tokens: 4, 5
    assert note_tokens_start(head, [1, 7, 8, 9]) == 2  # BPE merged the head's end into the title
    assert note_tokens_start(head, head) == 3  # the last token is always the note's own
    assert pooling_weights("last", 3).tolist() == [0, 0, 1]
    assert pooling_weights("mean", 4).tolist() == [0.25] * 4
    assert pooling_weights("weighted_mean", 3) == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        pooling_weights("max", 3)


@pytest.fixture(scope="module")
def shipped(shipped_model):
    model = NoteModel(shipped_model, threads=2, content_tokens=48)
    yield model
    model.close()


def test_reusing_the_cached_head_gives_the_vectors_of_the_full_prompt(shipped):
    assert len(NOTES) > SEQUENCES_PER_DECODE
    prompts = [shipped.prompt_ids(title, text, 48) for title, text in NOTES]
    head = shipped.embedder._cached_head
    assert len(head) > 20 and all(prompt[: len(head) - 1] == head[:-1] for prompt in prompts)

    with_head = shipped.embed_token_ids(prompts)
    shipped.embedder.set_head([])
    try:
        full_prompts = shipped.embed_token_ids(prompts)
    finally:
        shipped.embedder.set_head(head)

    cosines = (with_head * full_prompts).sum(axis=1)
    assert cosines.min() >= 0.9999
    # Notes differ, so their vectors do: a stream that kept a previous note's cells would show here.
    assert np.all((with_head @ with_head.T)[np.triu_indices(6, 1)] < 0.9999)
    assert np.allclose(shipped.embed_token_ids(prompts), with_head)


def test_the_embedding_read_back_from_the_logits_is_llama_cpps_own_hidden_state(shipped, shipped_model):
    """The engine decodes with embedding mode off and maps each prompt's last-token logits back to its hidden
    state (`engine.logit_readout`); llama-cpp-python's embedding mode returns that state directly."""
    import llama_cpp

    ours = shipped.embed_notes(NOTES[:6], 48)
    reference = llama_cpp.Llama(str(shipped_model), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST,
                                n_ctx=512, n_batch=512, verbose=False)
    try:
        hidden = np.array([reference.embed(shipped.tokenizer.note_prompt(title, text, 48)) for title, text in NOTES[:6]],
                          dtype=np.float32)
    finally:
        reference.close()
    assert (ours * shipped.project(hidden)).sum(axis=1).min() > 0.9999
    assert shipped.readout.matrix.shape == (shipped.dimensions, shipped.embedder.vocabulary)
