"""Shared words: the engine's lexical terms, rank fusion, and related notes that use both (real model, SQLite FTS5)."""

from conftest import write_notes
from notellm.engine.lexical import COMMON_FLOOR, COMMON_SHARE, RRF_K, document, document_counts, fuse_ranked, match_query, terms


def test_terms_split_words_and_cjk_runs_into_character_pairs():
    assert terms("Linear-Algebra: 线性代数 und Übung") == ["linear", "algebra", "线性", "性代", "代数", "und", "übung"]
    assert document("東京", "タワー") == "東京 タワ ワー"
    assert match_query(["a", 'say "hi"', "a"]) == '"a" OR "say ""hi"""'
    assert match_query([]) is None


def test_a_query_leaves_out_the_words_most_of_the_vault_shares():
    bodies = ["the matrix and the map"] * 60 + ["the eigenvalue of a matrix"] * 40
    counts = document_counts(bodies)
    assert counts["the"] == 100 and counts["matrix"] == 100 and counts["eigenvalue"] == 40
    assert COMMON_SHARE * 100 < 40  # in these 100 notes "eigenvalue" is common too
    assert match_query(["the", "eigenvalue", "zebra"], counts=counts, notes=100) == '"zebra"'
    assert match_query(["the", "eigenvalue"], counts=counts, notes=1000) == '"eigenvalue"'  # not in a vault of 1,000
    # A small vault keeps its words: no term is common in fewer than COMMON_FLOOR notes.
    small = document_counts(["flour water"] * COMMON_FLOOR)
    assert match_query(["flour"], counts=small, notes=COMMON_FLOOR) == '"flour"'


def test_the_stores_term_counts_follow_its_writes(tmp_path):
    from notellm.engine.store import NoteContent, Store

    store = Store(tmp_path / "index.db")
    content = NoteContent(title="A", folder="", mtime_ns=1, size=1, content_hash="h", text_hash="t", tags=[], aliases=[],
                          category=None, links=[], keywords=[], warning=None)
    with store.transaction():
        first, second = (store.list_note(path, content) for path in ("a.md", "b.md"))
        store.set_lexical(first, "flour water salt")
    assert store.term_counts() == ({"flour": 1, "water": 1, "salt": 1}, 1)  # read from the table once
    with store.transaction():
        store.set_lexical(second, "flour yeast")
        store.set_lexical(first, "water")
    counts, notes = store.term_counts()
    assert (notes, counts["flour"], counts["water"], counts["salt"], counts["yeast"]) == (2, 1, 1, 0, 1)
    with store.transaction():
        store.delete_notes([second])
    counts, notes = store.term_counts()
    assert (notes, counts["flour"], counts["yeast"]) == (1, 0, 0)
    try:
        with store.transaction():
            store.set_lexical(first, "rolled back")
            raise RuntimeError
    except RuntimeError:
        pass
    assert store.term_counts()[0]["water"] == 1 and store.term_counts()[1] == 1  # read again after the rollback
    store.close()


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
