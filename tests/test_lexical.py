"""Shared words: the engine's lexical terms, BM25 over them in memory, rank fusion, and related notes that use both
(real model, real SQLite)."""

from conftest import write_notes
import math

from notellm.engine.lexical import (COMMON_FLOOR, COMMON_SHARE, MAX_QUERY_TERMS, QUERY_PAIRS_BUDGET, RRF_K, document,
                                    fuse_ranked, match_query, query_terms, terms)
from notellm.engine.term_index import TermIndex


def test_terms_split_words_and_cjk_runs_into_character_pairs():
    assert terms("Linear-Algebra: 线性代数 und Übung") == ["linear", "algebra", "线性", "性代", "代数", "und", "übung"]
    assert document("東京", "タワー") == "東京 タワ ワー"
    assert match_query(["a", 'say "hi"', "a"]) == '"a" OR "say ""hi"""'
    assert match_query([]) is None


def test_a_query_leaves_out_the_words_most_of_the_vault_shares():
    bodies = ["the matrix and the map"] * 60 + ["the eigenvalue of a matrix"] * 40
    counts = TermIndex.of(enumerate(bodies)).counts
    assert counts["the"] == 100 and counts["matrix"] == 100 and counts["eigenvalue"] == 40
    assert COMMON_SHARE * 100 < 40  # in these 100 notes "eigenvalue" is common too
    assert query_terms(["the", "eigenvalue", "zebra"], counts=counts, notes=100) == ["zebra"]
    assert query_terms(["the", "eigenvalue"], counts=counts, notes=1000) == ["eigenvalue"]  # not in a vault of 1,000
    # A small vault keeps its words: no term is common in fewer than COMMON_FLOOR notes.
    small = TermIndex.of(enumerate(["flour water"] * COMMON_FLOOR)).counts
    assert query_terms(["flour"], counts=small, notes=COMMON_FLOOR) == ["flour"]


def test_a_query_in_a_huge_vault_leaves_out_its_commonest_terms_past_a_budget():
    half = QUERY_PAIRS_BUDGET // 2
    counts = {"often": half + 10, "sometimes": half, "rarely": 10}
    vault = 100 * QUERY_PAIRS_BUDGET  # none of them is in COMMON_SHARE of it
    assert query_terms(["often", "rarely", "sometimes"], counts=counts, notes=vault) == ["rarely", "sometimes"]
    assert query_terms(["rarely", "sometimes"], counts=counts, notes=vault) == ["rarely", "sometimes"]
    assert MAX_QUERY_TERMS * COMMON_SHARE * 15_625 <= QUERY_PAIRS_BUDGET  # it never binds below 15,625 notes


def test_bm25_in_memory_scores_as_fts5_does():
    from notellm.engine.store import ScratchFTS

    rows = ["quaternion rotation vector", "quaternion quaternion algebra of rotations with more words here",
            "a shopping list", "rotation of a vector", "flour water salt", "tea", "the garden in spring", "the garden"]
    index = TermIndex.of(enumerate(rows))
    query = ["quaternion", "rotation", "garden", "missing"]
    hits = index.matches(query, limit=10)
    assert [note_id for note_id, _ in hits] == [0, 7, 1, 3, 6]  # the rest share no term
    fts = ScratchFTS(("body",), "unicode61", ((row,) for row in rows))
    reference = dict(fts.matches(match_query(query)))
    fts.close()
    assert reference.keys() == dict(hits).keys()
    assert all(math.isclose(score, reference[note_id], rel_tol=1e-9) for note_id, score in hits)
    assert index.matches(query, limit=2) == hits[:2]
    tied = TermIndex.of([(5, "tea"), (3, "tea"), (9, "tea")])
    assert [note_id for note_id, _ in tied.matches(["tea"], limit=2)] == [3, 5]  # ties go to the lowest ids
    tied.remove(3, "tea")
    tied.add(3, "tea")  # now in the last slot
    assert [note_id for note_id, _ in tied.matches(["tea"], limit=2)] == [3, 5]
    assert index.matches(["missing"], limit=10) == [] and index.matches(["vector"], limit=0) == []


def test_a_changed_row_replaces_the_old_one_and_dead_rows_are_dropped():
    index = TermIndex.of([(1, "flour water salt")])
    index.remove(1, "flour water salt")
    index.add(1, "water yeast")
    assert (index.rows, index.counts["flour"], index.counts["water"]) == (1, 0, 1)
    assert [note_id for note_id, _ in index.matches(["flour", "water"], 10)] == [1]
    for round_ in range(1500):  # more dead rows than live ones, and more than the compaction floor
        index.remove(1, "water yeast" if round_ == 0 else f"edit {round_ - 1}")
        index.add(1, f"edit {round_}")
    assert len(index._note_of) < 1100  # compacted on the way
    fresh = TermIndex.of([(1, "edit 1499")])
    assert index.matches(["edit", "1499", "water"], 10) == fresh.matches(["edit", "1499", "water"], 10)
    assert (index.rows, index.counts["water"], index.counts["edit"]) == (1, 0, 1)


def test_shared_reads_which_of_a_queries_terms_each_note_holds_from_the_postings_alone():
    index = TermIndex.of([(1, "sourdough starter flour flour"), (2, "flour water"), (3, "starter motor")])
    index.remove(2, "flour water")
    index.add(2, "water yeast flour")  # a changed row: the dead one must not answer
    shared = index.shared(["flour", "starter", "missing"], [2, 3, 99])
    assert {note: sorted(words) for note, words in shared.items()} == {2: ["flour"], 3: ["starter"]}
    holders, weights = index.holders("flour")
    assert shared[2]["flour"] == dict(zip(holders.tolist(), weights.tolist()))[2]  # BM25's per-row part, as holders gives it


def test_the_stores_term_index_follows_its_writes(tmp_path):
    from notellm.engine.store import NoteContent, Store

    store = Store(tmp_path / "index.db")
    content = NoteContent(title="A", folder="", mtime_ns=1, size=1, content_hash="h", text_hash="t", tags=[], aliases=[],
                          category=None, links=[], warning=None)
    with store.transaction():
        first, second = (store.list_note(path, content) for path in ("a.md", "b.md"))
        store.set_lexical(first, "flour water salt")
    terms = store.term_index()  # read from the table once
    assert (terms.counts, terms.rows) == ({"flour": 1, "water": 1, "salt": 1}, 1)
    with store.transaction():
        store.set_lexical(second, "flour yeast")
        store.set_lexical(first, "water")
    assert store.term_index() is terms
    assert (terms.rows, terms.counts["flour"], terms.counts["water"], terms.counts["salt"], terms.counts["yeast"]) == (2, 1, 1, 0, 1)
    assert [note_id for note_id, _ in terms.matches(["flour", "water"], 10)] == sorted([first, second])
    with store.transaction():
        store.delete_notes([second])
    assert (terms.rows, terms.counts["flour"], terms.counts["yeast"]) == (1, 0, 0)
    assert terms.matches(["flour", "yeast"], 10) == []
    try:
        with store.transaction():
            store.set_lexical(first, "rolled back")
            raise RuntimeError
    except RuntimeError:
        pass
    terms = store.term_index()  # read again after the rollback
    assert terms.counts["water"] == 1 and terms.counts["rolled"] == 0 and terms.rows == 1
    store.close()


def test_a_term_index_saved_to_disk_loads_as_it_was_for_its_version_only(tmp_path):
    rows = [(4, "quaternion rotation vector"), (9, "rotation of a vector"), (2, "flour water salt"), (7, "")]
    index = TermIndex.of(rows)
    path = tmp_path / "terms.npz"
    index.save(path, "v1")
    loaded = TermIndex.load(path, "v1")
    assert (loaded.rows, loaded.counts) == (index.rows, index.counts)
    query = ["rotation", "vector", "salt"]
    assert loaded.matches(query, 10) == index.matches(query, 10)
    loaded.remove(9, "rotation of a vector")
    loaded.add(9, "salt")
    assert [note_id for note_id, _ in loaded.matches(["salt"], 10)] == [9, 2]  # the shorter row first
    assert TermIndex.load(path, "v2") is None  # the rows changed since it was saved
    assert TermIndex.load(tmp_path / "missing.npz", "v1") is None
    (tmp_path / "torn.npz").write_bytes(path.read_bytes()[:100])
    assert TermIndex.load(tmp_path / "torn.npz", "v1") is None
    TermIndex.of([]).save(path, "empty")
    assert TermIndex.load(path, "empty").matches(["salt"], 10) == []
    try:
        loaded.save(path, "v3")
    except ValueError:
        pass
    else:
        raise AssertionError("an index changed since its bulk build was saved")


def test_a_store_opened_again_uses_its_saved_terms_until_any_process_changes_a_row(tmp_path):
    from notellm.engine.store import LEXICAL_VERSION, NoteContent, Store

    content = NoteContent(title="A", folder="", mtime_ns=1, size=1, content_hash="h", text_hash="t", tags=[], aliases=[],
                          category=None, links=[], warning=None)
    with Store(tmp_path / "index.db") as store, store.transaction():
        note = store.list_note("a.md", content)
        store.set_lexical(note, "flour water salt")
    with Store(tmp_path / "index.db") as store:
        assert store.term_index().counts["flour"] == 1
        version = store.get_meta(LEXICAL_VERSION)
        path = store.terms_path
    assert path.exists()
    TermIndex.of([(99, "planted")]).save(path, version)  # a copy that only this test wrote
    with Store(tmp_path / "index.db") as store:
        assert store.term_index().counts["planted"] == 1  # loaded, not read from the rows
    with Store(tmp_path / "index.db") as writer, writer.transaction():  # another process's write
        writer.set_lexical(note, "flour yeast")
    with Store(tmp_path / "index.db") as store:
        terms = store.term_index()
        assert (terms.counts["planted"], terms.counts["yeast"], terms.counts["salt"]) == (0, 1, 0)
        assert store.get_meta(LEXICAL_VERSION) != version
    with Store(tmp_path / "index.db") as store, store.transaction():
        store.delete_notes([note])
    with Store(tmp_path / "index.db") as store:
        assert store.term_index().rows == 0


def test_an_index_with_fts5_lexical_rows_moves_them_to_a_plain_table(tmp_path):
    import sqlite3

    from notellm.engine.store import Store

    path = tmp_path / "index.db"
    Store(path).close()
    with sqlite3.connect(path) as db:  # an index written before migration 4: its rows in FTS5
        db.execute("delete from _migrations where name = '004_lexical_plain'")
        db.execute("drop table lexical")
        db.execute("create virtual table lexical using fts5(body, tokenize='unicode61 remove_diacritics 2')")
        db.execute("insert into lexical(rowid, body) values (7, 'flour water')")
    db.close()
    store = Store(path)
    sql = store.db.execute("select sql from sqlite_master where name = 'lexical'").fetchone()[0]
    assert "fts5" not in sql.lower() and store.lexical_body(7) == "flour water"
    assert store.term_index().matches(["water"], 10)[0][0] == 7
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
