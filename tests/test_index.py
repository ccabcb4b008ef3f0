"""The index end to end with the real model, real SQLite and a real USearch file."""

import json
import os
import time

import numpy as np
import pytest

from conftest import write_notes
from notellm.engine import IndexLockedError, NoteNotFoundError
from notellm.engine.lock import FileLock
from notellm.engine.vault import read_notes


def test_reindex_embeds_every_note_then_nothing_when_unchanged(garden, open_index):
    index = open_index(garden)
    first = index.reindex()
    assert (first.scanned, first.embedded, first.skipped) == (6, 6, 0)
    again = index.reindex()
    assert (again.embedded, again.unchanged) == (0, 6)
    status = index.status()
    assert (status.indexed, status.stale, status.vectors) == (6, 0, 6)


def test_related_ranks_same_topic_first_excludes_itself_and_marks_links(garden, open_index):
    index = open_index(garden)
    index.reindex()
    related = index.related("Linear algebra.md", k=5)
    paths = [r.path for r in related]
    assert "Linear algebra.md" not in paths and len(paths) == 5
    assert {"Matrix multiplication.md"} <= set(paths[:3])
    by_path = {r.path: r for r in related}
    assert by_path["Matrix multiplication.md"].linked
    assert by_path["Matrix multiplication.md"].reason == "shared tags: #math"
    assert not any(r.linked for r in related if r.path != "Matrix multiplication.md")
    assert all(-1.0 <= r.score <= 1.0 for r in related)
    index.fuse_lexical = False  # the model's similarity alone: ordered by its cosine
    related = index.related("Linear algebra.md", k=5)
    assert [r.score for r in related] == sorted((r.score for r in related), reverse=True)


def test_backlinks_count_as_links_and_can_be_hidden(garden, open_index):
    index = open_index(garden)
    index.reindex()
    assert any(r.linked and r.path == "Linear algebra.md" for r in index.related("Matrix multiplication", k=5))
    hidden = index.related("Matrix multiplication.md", k=5, hide_linked=True)
    assert "Linear algebra.md" not in [r.path for r in hidden]
    assert index.related("Matrix multiplication.md", k=5, min_score=1.01) == []


def test_notes_are_found_by_path_name_or_title(garden, open_index):
    index = open_index(garden)
    index.reindex()
    assert index.note("Baking/Bread.md").path == "Baking/Bread.md"
    assert index.note("Bread").path == "Baking/Bread.md"
    assert index.note("Bread basics").path == "Baking/Bread.md"
    assert index.note("baking/bread.MD").path == "Baking/Bread.md"
    with pytest.raises(NoteNotFoundError):
        index.note("No such note")


def test_a_markdown_suffixed_note_is_found_by_name_like_an_md_note(garden, open_index):
    """The index finds notes by the vault's one rule for names, which knows every suffix the vault accepts."""
    (garden / "Ideas").mkdir()
    (garden / "Ideas" / "Garden.markdown").write_text("# My garden\n\nTomatoes, beans and a fig tree.\n", encoding="utf-8")
    index = open_index(garden)
    index.reindex()
    assert index.note("Ideas/Garden").path == "Ideas/Garden.markdown"
    assert index.note("garden").path == "Ideas/Garden.markdown"
    assert index.note("My garden").path == "Ideas/Garden.markdown"
    assert index.note("Loaf").path == "Baking/Bread.md"  # an alias


def test_changed_note_is_embedded_again_and_deleted_note_forgotten(garden, open_index):
    index = open_index(garden)
    index.reindex()
    before = index.store.embedding_of(index.note("Eigenvalues.md").id)
    (garden / "Eigenvalues.md").write_text("# Eigenvalues\n\nCompletely different: bread crust and ovens.\n")
    (garden / "Baking" / "Pizza dough.md").unlink()
    summary = index.reindex()
    assert (summary.embedded, summary.removed) == (1, 1)
    after = index.store.embedding_of(index.note("Eigenvalues.md").id)
    assert not np.allclose(before, after)
    assert "Baking/Pizza dough.md" not in [r.path for r in index.related("Sourdough", k=10)]
    assert len(index._vector_index()) == 5


def test_rename_keeps_the_vector_without_embedding(garden, open_index):
    index = open_index(garden)
    index.reindex()
    row = index.note("Eigenvalues.md")
    vector = index.store.embedding_of(row.id)
    (garden / "Eigenvalues.md").rename(garden / "Eigen stuff.md")
    summary = index.reindex()
    assert (summary.embedded, summary.renamed, summary.removed) == (0, 1, 0)
    moved = index.note("Eigen stuff.md")
    assert moved.id == row.id and np.array_equal(index.store.embedding_of(moved.id), vector)


def test_a_note_moved_to_another_folder_is_read_again_with_its_folder(garden, open_index):
    """The shipped model reads each note's folder (`ModelTraits.folder_line`), so a note filed elsewhere is another
    prompt: it gets a new vector (the same note: its id and dismissed suggestions kept), where a rename in its folder
    keeps the vector."""
    index = open_index(garden)
    assert index.model.tokenizer.folder_line
    index.reindex()
    row = index.note("Baking/Pizza dough.md")
    vector = index.store.embedding_of(row.id)
    (garden / "Baking" / "Pizza dough.md").rename(garden / "Baking" / "Pizza.md")
    summary = index.reindex()
    assert (summary.embedded, summary.renamed) == (0, 1)
    (garden / "Recipes").mkdir()
    (garden / "Baking" / "Pizza.md").rename(garden / "Recipes" / "Pizza.md")
    summary = index.reindex()
    assert (summary.embedded, summary.renamed, summary.removed) == (1, 1, 0)
    assert index.note("Recipes/Pizza.md").id == row.id
    moved = index.store.embedding_of(row.id)
    assert not np.allclose(moved, vector)
    note = next(note for note in read_notes(garden) if note.path == "Recipes/Pizza.md")
    assert note.prompt_fields[2] == "Recipes"
    assert np.allclose(moved, index.model.embed_notes([note.prompt_fields], 48)[0], atol=1e-5)  # read in its new folder


def test_of_many_removed_notes_with_one_text_the_move_keeps_the_first_by_id(tmp_path):
    """A new path with a removed note's text is that note moved; of several removed notes with equal texts, the first
    by id (`Store.rename_candidates`), however many were removed (the store reads them 500 at a time)."""
    from notellm.engine.store import NoteContent, Store

    content = NoteContent(title="Copy", folder="", mtime_ns=1, size=1, content_hash="h", text_hash="same", tags=[],
                          aliases=[], category=None, links=[], warning=None)
    with Store(tmp_path / "index.db") as store:
        with store.transaction():
            ids = [store.store_embedding(f"copy {i}.md", content, np.ones(4, dtype=np.float32), "model") for i in range(1200)]
        rows = store.rename_candidates(list(reversed(ids)), "model")
    assert [note_id for _, _, note_id in rows] == sorted(ids)


def test_a_model_that_starts_reading_folders_embeds_the_vault_again(garden, open_index, folderless_model, tmp_path):
    """A model file given the folder line (`notellm-train folder-line`) in place, as an upgrade of the default does,
    makes other vectors: the index embeds every note once more instead of mixing the two."""
    from dataclasses import replace
    import shutil

    from notellm.engine.model import model_traits
    from notellm.training.delta import write_traits

    model = shutil.copy(folderless_model, tmp_path / "model.gguf")  # a copy: the fixture is shared
    index = open_index(garden, model=model)
    assert index.reindex().embedded == 6 and not index.embedder_id.endswith(":folder:t48")
    index.close()
    write_traits(model, replace(model_traits(model), folder_line=True))
    index = open_index(garden, model=model)
    assert index.embedder_id.endswith(":folder:t48")
    assert index.reindex().embedded == 6
    assert index.reindex().embedded == 0
    assert [r.path for r in index.related("Baking/Sourdough.md", k=2)]


def test_tag_only_edit_does_not_reembed(garden, open_index):
    index = open_index(garden)
    index.reindex()
    added = index.apply_tags("Eigenvalues.md", ["math"])
    assert added == ["math"]
    assert (garden / "Eigenvalues.md").read_text().startswith("---\ntags: [math]\n---\n# Eigenvalues")
    assert index.note("Eigenvalues.md").tags == ["math"]
    assert index.reindex().embedded == 0


def test_search_finds_the_note_that_answers(garden, open_index):
    index = open_index(garden)
    index.reindex()
    hits = index.search("how do I keep a sourdough starter alive", k=3)
    assert len(hits) == 3
    assert "Baking/Sourdough.md" in [h.path for h in hits]


def test_a_question_keeps_its_common_words(tmp_path, open_index, shipped_model):
    """"publish" is in more than 5% of the sample vault's notes: left out of a question as it is of a note's
    query, the Web Clipper note (about a "website") came first instead of a Publish note."""
    import shutil

    from conftest import SAMPLE_VAULT

    index = open_index(shutil.copytree(SAMPLE_VAULT, tmp_path / "sample"), model=shipped_model)
    index.reindex()
    first = index.search("how do I publish my notes as a website", k=5)[0]
    assert first.path.startswith("user/publishing/publish-"), first
    assert "publish" in first.reason


def test_a_related_notes_reason_names_the_words_both_dwell_on_not_the_vaults_common_ones(tmp_path, open_index, shipped_model):
    """Every note of Foam's documentation says "foam" and "note": a reason that named them (as the two notes'
    most frequent words did) told nothing. It names the words the two share that the vault uses least."""
    import shutil

    from conftest import SAMPLE_VAULT

    index = open_index(shutil.copytree(SAMPLE_VAULT, tmp_path / "sample"), model=shipped_model)
    index.reindex()
    reasons = [r.reason for r in index.related("user/features/block-anchors.md", k=10)]
    shared = [reason.removeprefix("key terms: ").split(", ") for reason in reasons if reason.startswith("key terms: ")]
    assert {"block", "anchors"} <= {word for words in shared for word in words}, reasons
    assert "foam" not in {word for words in shared for word in words}, reasons
    assert not {words[0] for words in shared} & {"note", "notes"}, reasons  # a note may still dwell on the word "note"


def test_an_index_that_kept_each_notes_frequent_words_drops_them_and_keeps_its_notes(garden, open_index):
    """Migration 7: the `keywords` column that reasons once read goes; the notes, vectors and reasons stay."""
    import sqlite3

    index = open_index(garden)
    index.reindex()
    path = index.store.path
    index.close()
    with sqlite3.connect(path) as db:  # as an index written before migration 7 holds it
        db.execute("delete from _migrations where name = '007_no_keywords'")
        db.execute("alter table notes add column keywords text")
        db.execute("update notes set keywords = '[\"stale\"]'")
    db.close()
    index = open_index(garden)
    assert "keywords" not in {row[1] for row in index.store.db.execute("pragma table_info(notes)")}
    assert index.reindex().embedded == 0
    related = index.related("Linear algebra.md", k=3)
    assert len(related) == 3 and not any("stale" in r.reason for r in related)


def test_suggested_tags_are_stored_clean_and_dismissals_remembered(garden, open_index):
    index = open_index(garden)
    index.reindex()
    tags = index.suggest_tags("Sourdough", count=5)
    assert 0 < len(tags) <= 5
    assert all(tag and " " not in tag and len(tag) <= 40 for tag in tags)
    assert len({t.lower() for t in tags}) == len(tags)
    assert index.suggest_tags("Sourdough", count=5) == tags  # stored, not generated again
    index.dismiss_tag("Sourdough", tags[0])
    assert tags[0] not in index.suggest_tags("Sourdough", count=5, refresh=True)


def test_a_tagged_vaults_folders_and_links_help_choose_a_notes_tags(tmp_path, open_index):
    """The closest note to the sardines is a trip, but the kitchen folder's notes and the note it links to are
    recipes."""
    vault = write_notes(tmp_path / "v", {
        "kitchen/Pancakes.md": "---\ntags: [recipe]\n---\n# Pancakes\n\nFlour, eggs and milk, fried in butter.\n",
        "kitchen/Omelette.md": "---\ntags: [recipe]\n---\n# Omelette\n\nThree eggs whisked and cooked slowly.\n",
        "kitchen/Lentil soup.md": "---\ntags: [recipe]\n---\n# Lentil soup\n\nRed lentils, onion and cumin.\n",
        "trips/Lisbon.md": "---\ntags: [travel]\n---\n# Lisbon\n\nTrams, tiles and grilled sardines by the river.\n",
        "trips/Porto.md": "---\ntags: [travel]\n---\n# Porto\n\nBridges over the Douro and port cellars.\n",
        "kitchen/Grilled sardines.md": "# Grilled sardines\n\nSardines grilled by the river in Lisbon, with trams passing.\n",
        "Sardines again.md": "# Sardines again\n\nGrilled sardines by the river in Lisbon, trams passing. [[Omelette]]\n",
    })
    index = open_index(vault)
    index.reindex()

    def closest_tagged(path: str) -> str:
        return next(r.path for r in index.related(path, k=6) if "sardines" not in r.path.casefold())

    assert closest_tagged("kitchen/Grilled sardines.md") == "trips/Lisbon.md"
    assert index.suggest_tags("kitchen/Grilled sardines.md", count=3) == ["recipe"]
    # at the vault's top the folder says nothing, but the note it links to does
    assert closest_tagged("Sardines again.md") == "trips/Lisbon.md"
    assert index.suggest_tags("Sardines again.md", count=3) == ["recipe"]


def test_bad_files_are_recorded_with_reasons_and_the_rest_indexed(tmp_path, open_index):
    vault = write_notes(tmp_path / "v", {
        "ok.md": "# Fine\nA normal note.",
        "binary.md": b"\x00\x01\x02binary",
        "latin1.md": "caf\xe9".encode("latin-1"),
        "empty.md": "",
        "broken.md": "---\ntags: [x\n---\n# Broken frontmatter\nbody",
    })
    (vault / "loop").symlink_to(vault)
    index = open_index(vault)
    summary = index.reindex()
    assert summary.embedded == 2 and summary.skipped == 4
    status = index.status()
    reasons = {s["path"]: s["reason"] for s in status.skipped}
    assert reasons["binary.md"] == "binary file, not Markdown"
    assert reasons["latin1.md"].startswith("not valid UTF-8")
    assert reasons["empty.md"] == "empty note"
    assert reasons["loop"].startswith("symlink loop")
    assert [w["path"] for w in status.warnings] == ["broken.md"]
    # Fixing a file brings it in; breaking one takes it out of the vectors.
    (vault / "latin1.md").write_text("café au lait")
    (vault / "ok.md").write_bytes(b"\x00now binary")
    summary = index.reindex()
    assert summary.embedded == 1
    assert len(index._vector_index()) == 2
    with pytest.raises(NoteNotFoundError, match="binary"):
        index.related("ok.md")


def test_batched_embeddings_match_one_at_a_time(garden, open_index):
    index = open_index(garden)
    notes = [("Linear algebra", "Vectors and matrices"), ("Sourdough", "Flour and water"), ("Pizza", "Dough, tomato")]
    together = index.model.embed_notes(notes, 48)
    alone = np.stack([index.model.embed_notes([note], 48)[0] for note in notes])
    assert together.shape == (3, index.model.dimensions)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # One decode of several sequences differs from separate decodes only by float rounding
    # in the quantized kernels (~1e-3 per component), not by leaking between sequences.
    assert (together * alone).sum(axis=1).min() > 0.9995


def test_usearch_file_out_of_step_with_sqlite_is_rebuilt_without_embedding(garden, open_index):
    index = open_index(garden)
    index.reindex()
    index_dir = index.index_dir
    index.close()
    (index_dir / "vectors.json").write_text(json.dumps({"generation": -1, "dimensions": 576}))
    reopened = open_index(garden)
    assert len(reopened.related("Sourdough", k=3)) == 3
    assert reopened._model is None  # answered from SQLite blobs, no model loaded


def test_a_second_writer_gets_a_clear_error(garden, open_index, tmp_path):
    index = open_index(garden)
    other = FileLock(index.index_dir / "writer.lock")
    assert other.acquire()
    try:
        with pytest.raises(IndexLockedError, match="another NoteLLM process"):
            index.reindex()
    finally:
        other.release()


def test_index_can_live_inside_the_vault_when_asked(garden, open_index):
    index = open_index(garden, index_dir=garden / ".notellm")
    index.reindex()
    assert (garden / ".notellm" / "index.db").exists()
    assert index.reindex().scanned == 6  # the hidden index folder is not read as notes


def test_settings_are_remembered_per_vault(garden, open_index, model_path):
    index = open_index(garden, content_tokens=40, exclude=["Baking"], model=model_path)
    assert index.reindex().scanned == 3
    index.close()
    from notellm.engine import VaultIndex

    with VaultIndex.open(garden) as again:
        assert (again.content_tokens, again.exclude, again.model_path) == (40, ("Baking",), model_path.resolve())
        assert again.status().stale == 0


def test_notes_are_listed_before_they_are_embedded_and_resumed_later(garden, open_index):
    index = open_index(garden)
    summary = index.reindex(should_stop=lambda: True)
    assert summary.cancelled and summary.embedded == 0
    rows = index.notes()
    assert len(rows) == 6 and not any(row.indexed for row in rows)
    with pytest.raises(NoteNotFoundError, match="not embedded yet"):
        index.related("Sourdough")
    assert index.status().stale == 6
    assert index.reindex().embedded == 6


def test_the_most_recently_modified_notes_are_embedded_first(garden, open_index):
    """A long first index relates today's notes first: it embeds the newest note at once, then the rest
    newest to oldest, and a run stopped after the first batch resumes with the next newest."""
    newest_first = ["Eigenvalues.md", "Baking/Pizza dough.md", "Linear algebra.md", "Baking/Bread.md",
                    "Matrix multiplication.md", "Baking/Sourdough.md"]
    now = time.time()
    for days_old, path in enumerate(newest_first):
        os.utime(garden / path, (now - days_old * 86400, now - days_old * 86400))
    index = open_index(garden)
    reported = []  # notes embedded so far, as progress reports them
    first = index.reindex(progress=lambda done, total: reported.append(done), should_stop=lambda: reported[-1] > 0)
    assert first.cancelled and first.embedded_paths == ["Eigenvalues.md"]
    assert index.related("Eigenvalues.md", k=3)  # today's note is related while the rest wait
    with pytest.raises(NoteNotFoundError, match="not embedded yet"):
        index.related("Baking/Sourdough.md")
    second = index.reindex()
    assert second.embedded_paths == newest_first[1:]


def test_a_resumed_run_reads_a_waiting_note_only_when_its_batch_comes(garden, open_index):
    """Notes listed by a run that stepped aside are not read again up front (their rows are current
    unless the file changed), so a resumed run starts embedding at once; a note is read when its batch
    comes, and one that can't be read then is skipped with its reason. The links are whole at the end."""
    note = garden / "Eigenvalues.md"
    os.utime(note, (time.time() - 86400, time.time() - 86400))  # the oldest: embedded last
    index = open_index(garden)
    assert index.reindex(should_stop=lambda: True).cancelled
    original, stat = note.read_bytes(), note.stat()
    note.write_bytes(b"\0" * len(original))  # same size and time: looks unchanged, reads as binary
    os.utime(note, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    reported = []
    first = index.reindex(progress=lambda done, total: reported.append(done), should_stop=lambda: reported[-1] > 0)
    assert first.cancelled and first.embedded == 1 and first.skipped == 0  # not read yet
    assert not any(r.skip_reason for r in index.notes())
    summary = index.reindex()
    assert summary.embedded == 4 and summary.skipped == 1 and not summary.cancelled
    assert {r.path: r.skip_reason for r in index.notes() if r.skip_reason} == {"Eigenvalues.md": "binary file, not Markdown"}
    assert any(r.linked and r.path == "Matrix multiplication.md" for r in index.related("Linear algebra.md", k=5))
    note.write_bytes(original)
    assert index.reindex().embedded_paths == ["Eigenvalues.md"]


def test_a_run_that_stepped_aside_carries_on_where_it_stopped_without_a_new_scan(garden, open_index):
    """The app resumes a run that stepped aside with `carry_on=True`: the rest of its plan, no new scan (a
    save that lands as the run resumes would wait for it), because the watcher syncs what changes meanwhile.
    What the watcher synced is not embedded twice, and a file gone before its turn is removed, not skipped."""
    now = time.time()
    for days_old, path in enumerate(["Eigenvalues.md", "Baking/Pizza dough.md", "Baking/Bread.md"]):
        os.utime(garden / path, (now - days_old * 86400, now - days_old * 86400))
    index = open_index(garden)
    reported = []
    first = index.reindex(progress=lambda done, total: reported.append(done), should_stop=lambda: reported[-1] > 0)
    assert first.cancelled and first.embedded_paths == ["Eigenvalues.md"]
    (garden / "Baking" / "Pizza dough.md").unlink()
    edited = garden / "Baking" / "Bread.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nA longer proof helps the crumb.\n", encoding="utf-8")
    assert index.sync_paths([edited]).embedded == 1  # the watcher's sync
    write_notes(garden, {"Unseen.md": "# Unseen\n\nWritten while the run stood aside; no watcher told."})

    carried = index.reindex(carry_on=True)
    assert not carried.cancelled and carried.scanned == 5  # the plan's rest: 5 notes waited for a vector
    assert (carried.embedded, carried.unchanged, carried.removed, carried.skipped) == (3, 1, 1, 0)
    assert "Baking/Bread.md" not in carried.embedded_paths
    rows = {row.path: row for row in index.notes()}
    assert "Baking/Pizza dough.md" not in rows and "Unseen.md" not in rows
    assert all(row.indexed for row in rows.values()) and index.status().stale == 1  # Unseen.md: only a scan finds it
    assert any(r.linked and r.path == "Matrix multiplication.md" for r in index.related("Linear algebra.md", k=5))

    assert index.reindex(carry_on=True).embedded_paths == ["Unseen.md"]  # nothing left to carry on: a full run


def test_a_plain_reindex_drops_the_rest_of_a_run_that_stepped_aside(garden, open_index):
    index = open_index(garden)
    assert index.reindex(should_stop=lambda: True).cancelled
    write_notes(garden, {"Unseen.md": "# Unseen\n\nWritten while the run stood aside."})
    summary = index.reindex()
    assert summary.scanned == 7 and summary.embedded == 7
    assert index.reindex(carry_on=True).embedded == 0


def test_a_long_first_run_can_step_aside_while_it_lists(tmp_path, open_index):
    """Reading and listing 10,000 notes takes the better part of a minute: the run asks whether to step
    aside after every chunk (the first FIRST_LIST_CHUNK notes, then about `batch_seconds` of work), and
    each run that steps aside still lists a chunk, so runs resumed again and again list every note."""
    from notellm.engine.indexer import FIRST_LIST_CHUNK, LIST_CHUNK

    total = LIST_CHUNK + 10
    vault = write_notes(tmp_path / "many", {f"n{i:03}.md": f"# Note {i}\n\nword{i} and more" for i in range(total)})
    index = open_index(vault, content_tokens=16)
    first = index.reindex(should_stop=lambda: True)
    assert first.cancelled and first.embedded == 0 and len(index.notes()) == FIRST_LIST_CHUNK
    listed = [FIRST_LIST_CHUNK]
    while listed[-1] < total:
        summary = index.reindex(should_stop=lambda: True, batch_seconds=lambda: 0.0)  # the smallest chunks
        listed.append(len(index.notes()))
        assert summary.embedded == 0 and listed[-1] - listed[-2] == min(FIRST_LIST_CHUNK, total - listed[-2])
    assert summary.cancelled  # the last chunk is listed, then it steps aside from the embedding
    assert index.status().stale == total


def test_batch_seconds_sets_how_long_a_batch_may_take(tmp_path, open_index):
    """A request waits for the batch under way, so a batch is sized to take about `batch_seconds`
    (BATCH_SECONDS unless asked): with no time at all it holds one note, with ample time EMBED_BATCH."""
    from notellm.engine.indexer import EMBED_BATCH

    notes = {f"n{i:02}.md": f"# Note {i}\n\nword{i} and more" for i in range(12)}
    quick, roomy = [], []
    open_index(write_notes(tmp_path / "quick", notes)).reindex(progress=lambda done, total: quick.append(done),
                                                              batch_seconds=lambda: 0.0)
    open_index(write_notes(tmp_path / "roomy", notes)).reindex(progress=lambda done, total: roomy.append(done),
                                                              batch_seconds=lambda: 60.0)
    assert quick == list(range(13))
    assert roomy[:3] == [0, 1, 1 + EMBED_BATCH] and roomy[-1] == 12  # the first batch is one note, to measure


def test_a_sync_can_leave_the_links_for_later(garden, open_index):
    index = open_index(garden)
    index.reindex()
    write_notes(garden, {"Determinant.md": "# Determinant\n\nThe volume factor of a linear map. [[Eigenvalues]]\n"})
    index.sync_paths([garden / "Determinant.md"], links=False)
    assert not any(r.linked for r in index.related("Determinant.md", k=5))  # queryable, links not yet resolved
    assert index.update_links() is True
    assert [r.path for r in index.related("Determinant.md", k=5) if r.linked] == ["Eigenvalues.md"]
    assert index.update_links() is False  # nothing changed since


def test_an_empty_suggestion_is_remembered_and_generation_can_be_cut_short(garden, open_index):
    index = open_index(garden)
    index.reindex()
    assert index.suggest_tags("Sourdough", should_stop=lambda: True) == []
    note = index.note("Sourdough")
    assert note.suggested_for is None  # a cut-short answer is not stored
    index.store.replace_suggestions(note.id, note.content_hash, [])
    asked = []
    assert index.suggest_tags("Sourdough", should_stop=lambda: asked.append(1) or False) == []
    assert asked == []  # remembered: the model was not asked again


def test_embeddings_equal_llama_cpp_pythons_own_embed(garden, open_index, model_path):
    """Our split-cache batched decode reads the same hidden state as llama-cpp-python's embed()."""
    import llama_cpp

    index = open_index(garden, model=model_path)  # the same file as the reference below
    notes = [("Linear algebra", "Vectors and matrices"), ("Sourdough", "Flour, water and time")]
    ours = index.model.embed_notes(notes, 48)
    reference = llama_cpp.Llama(
        str(model_path), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_LAST, n_ctx=512, n_batch=512, verbose=False
    )
    try:
        hidden = np.array([reference.embed(index.model.tokenizer.note_prompt(t, x, 48)) for t, x in notes], dtype=np.float32)
    finally:
        reference.close()
    assert (ours * index.model.project(hidden)).sum(axis=1).min() > 0.9995
    assert index.model.prompt_ids(*notes[0], 48) == index.model.tokenizer.note_prompt_ids(*notes[0], 48)
