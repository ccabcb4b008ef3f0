"""The shipped default model: the trained delta in assets/models, merged into the PyPI base at set-up.

It must load in the engine like any GGUF, carry its projection head and its depth (the base's first 6
layers), say that it writes no topics (trained without CSFT), and rank the sample vault's own links higher
than the zero-shot base it was trained from (the same notes, prompt length and engine). The sample vault
(Foam's docs) is not among the collections it trained on.

The comparison reads 64 tokens of each note: the full 30-block base is the suite's slowest model, and the
margin is wide there too (92 of the links in the notes' top 10 against 65, 2026-12-07).
"""

from __future__ import annotations

import shutil
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = REPO / "assets" / "sample-vault"


COMPARED_TOKENS = 64


def linked_notes_in_top_10(vault: Path, model: Path) -> int:
    """Over every note, how many of its 10 most related notes by the model's similarity alone it links to
    (or is linked from). Alone: the engine's fusion adds the same lexical ranking to any model."""
    from notellm.engine import VaultIndex

    with VaultIndex.open(vault, model=model, content_tokens=COMPARED_TOKENS, threads=2) as index:
        index.fuse_lexical = False
        index.use_vault_map = False  # a map fitted to these very links would score them in-vault, for any model
        index.reindex()
        paths = [row.path for row in index.notes() if not row.skip_reason]
        return sum(hit.linked for path in paths for hit in index.related(path, k=10))


def test_the_default_model_is_found_first_and_carries_its_head(shipped_model):
    from notellm.engine.config import default_model_candidates, smollm2_base_model
    from notellm.engine.model import NoteModel

    candidates = default_model_candidates()
    assert candidates.index(REPO / "assets" / "models" / "notellm-default.gguf") < candidates.index(smollm2_base_model())
    from notellm.engine.gguf_metadata import read_metadata

    assert read_metadata(shipped_model, {"llama.block_count"}) == {"llama.block_count": 6}
    model = NoteModel(shipped_model, threads=2)
    try:
        assert model.dimensions == 128  # the trained projection, not the base's 576-d hidden state
        assert model.writes_topics is False  # hashtags come from the related notes' tags
    finally:
        model.close()


def test_the_default_model_finds_more_of_the_sample_vaults_links_than_the_base(shipped_model, model_path, tmp_path):
    vault = tmp_path / "sample"
    shutil.copytree(SAMPLE_VAULT, vault)
    trained = linked_notes_in_top_10(vault, shipped_model)
    base = linked_notes_in_top_10(vault, model_path)
    assert trained > base, (trained, base)
