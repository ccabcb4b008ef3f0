"""The collections whose vectors `bench/heldout.py` cached, as the map experiments read them (`vault_adapter.py`,
`map_keep_rules.py`, `pseudo_map.py`): the validation collections, or the training collections it cached for the
hashtag screens (in-vault: the model learnt their links)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def cached_collections(training: bool = False, minilm: bool = False) -> tuple[Path, list]:
    """(the cache folder of the vectors, the collections read): the default's vectors, or with `minilm` MiniLM's
    (validation collections only)."""
    import heldout as bench

    from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS

    key = bench.model_key(REPO / "assets" / "models" / "notellm-default.gguf", DEFAULT_CONTENT_TOKENS)
    if training:
        from notellm.training.corpus import DEFAULT_CORPUS, extract
        from notellm.training.heldout import read_collection

        folder = bench.CACHE / f"default-train-{key}"
        return folder, [read_collection(extract(DEFAULT_CORPUS, c, REPO / ".cache" / "corpus"), c.name)
                        for c in bench.small_training_collections(10**9, 0) if (folder / f"{c.name}.npz").exists()]
    _, _, collections = bench.validation_collections()
    return bench.CACHE / ("minilm-minilm" if minilm else f"default-{key}"), collections
