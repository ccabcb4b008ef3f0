"""Shared words: the engine's lexical terms, rank fusion, and related notes that use both (real model, SQLite FTS5)."""

from conftest import write_notes
from notellm.engine.lexical import RRF_K, document, fuse_ranked, match_query, terms


def test_terms_split_words_and_cjk_runs_into_character_pairs():
    assert terms("Linear-Algebra: 线性代数 und Übung") == ["linear", "algebra", "线性", "性代", "代数", "und", "übung"]
    assert document("東京", "タワー") == "東京 タワ ワー"
    assert match_query(["a", 'say "hi"', "a"]) == '"a" OR "say ""hi"""'
    assert match_query([]) is None


def test_rank_fusion_rewards_agreement_and_needs_no_scores():
    fused = fuse_ranked([[1, 2, 3], [3, 1, 4]])
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == 1 / (RRF_K + 1) + 1 / (RRF_K + 2)


def test_related_notes_fuse_shared_rare_words_with_the_model(garden, open_index):
    vault = write_notes(garden, {"Zettel.md": "# Zettel\n\nThe quaternion trick for rotations.\n",
                                 "Rotations.md": "# Rotations\n\nA quaternion rotates a vector without gimbal lock.\n"})
    index = open_index(vault)
    index.reindex()
    fused = [r.path for r in index.related("Zettel.md", k=3)]
    assert fused[0] == "Rotations.md"  # the only other note with "quaternion"
    index.fuse_lexical = False  # the model alone: the same notes, ordered by its cosine
    alone = index.related("Zettel.md", k=7)
    assert [r.score for r in alone] == sorted((r.score for r in alone), reverse=True)
    index.fuse_lexical = True
    hits = index.search("quaternion", k=2)
    assert "Rotations.md" in [hit.path for hit in hits]


def test_an_index_from_before_lexical_matching_fills_it_without_embedding_again(garden, open_index):
    index = open_index(garden)
    index.reindex()
    index.store.db.execute("delete from lexical")
    index.store.set_meta("lexical_complete", "0")  # as migration 3 leaves an index that already had notes
    summary = index.reindex()
    assert summary.embedded == 0
    count = index.store.db.execute("select count(*) from lexical").fetchone()[0]
    assert count == 6 and index.store.lexical_complete()
    assert "linear" in index.store.lexical_body(index.note("Linear algebra.md").id).split()
