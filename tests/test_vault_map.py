"""A vault's own links fitted into the model's vectors (engine/vault_map.py): the map, the held-out choice, and the
index that ranks related notes by the mapped vectors where the vault's links kept the map."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from conftest import write_notes

from notellm.engine import fusion_weight, vault_map
from notellm.engine.vault_map import Example, MappedVectors


def hidden_topic_vectors(notes: int = 120, topics: int = 6, seed: int = 0):
    """Vectors whose loud dimensions are noise and whose quiet ones carry a topic, and links within each topic:
    the cosine as it is barely sees the topic, which a map fitted to the links can bring up."""
    rng = np.random.default_rng(seed)
    topic = np.arange(notes) % topics
    centres = rng.normal(size=(topics, 8))
    vectors = np.hstack([rng.normal(size=(notes, 24)) * 3.0, centres[topic] + 0.3 * rng.normal(size=(notes, 8))])
    examples = [Example(row, vectors[row], frozenset(int(t) for t in rng.choice(np.flatnonzero((topic == topic[row]) & (np.arange(notes) != row)), 3, replace=False)))
                for row in range(0, notes, 2)]
    return vectors.astype(np.float32), examples


def recall_at_10(rankings: dict[int, list[int]], examples) -> float:
    found = sum(len(example.targets.intersection(rankings[i][:10])) for i, example in enumerate(examples))
    return found / sum(len(example.targets) for example in examples)


def test_a_map_fitted_on_some_of_a_vaults_links_ranks_the_other_links_targets_higher():
    vectors, examples = hidden_topic_vectors()
    as_they_are = MappedVectors(np.arange(len(vectors)), vectors, np.eye(vectors.shape[1], dtype=np.float32))
    plain = {i: [row for row, _ in as_they_are.search(example.vector, 11) if row != example.row] for i, example in enumerate(examples)}
    held_out = vault_map.held_out_rankings(vectors, examples, 10)
    assert sorted(held_out) == list(range(len(examples)))
    assert all(example.row not in held_out[i] for i, example in enumerate(examples))
    # A topic has 19 other notes, so ranking them all first finds 10/19 of the links at most.
    assert recall_at_10(plain, examples) < 0.2 < 0.35 < recall_at_10(held_out, examples) <= 10 / 19
    # Fitted on every link, the map stays near the identity on what the links say nothing about: finite, and pulled.
    matrix = vault_map.fit(vectors, examples)
    assert matrix.shape == (32, 32) and np.all(np.isfinite(matrix)) and not np.allclose(matrix, np.eye(32))
    assert np.array_equal(vault_map.fit(vectors, []), np.eye(32, dtype=np.float32))


def test_a_vault_keeps_its_map_only_where_the_held_out_rankings_find_more_links():
    found = {"a": 40, "b": 52}
    assert vault_map.keeps(found, {"a": 54}, links=100)  # two more than the best as they are: at least 1% of 100
    assert not vault_map.keeps(found, {"a": 52, "b": 53}, links=200)  # one more, but 1% of 200 is two
    assert not vault_map.keeps(found, {}, links=100)


def test_the_held_out_choice_steps_aside_between_folds_and_goes_on_with_the_folds_it_ranked():
    vectors, examples = hidden_topic_vectors(notes=60)
    done: dict[int, list[int]] = {}
    # Asked to stop at every chance, each run still ranks one fold first: a reader that keeps asking can't stall it.
    assert vault_map.held_out_rankings(vectors, examples, 10, done=done, should_stop=lambda: True) is None
    first_fold = dict(done)
    assert first_fold and {vault_map.example_folds(len(examples))[i] for i in first_fold} == {0}
    assert vault_map.held_out_rankings(vectors, examples, 10, done=done, should_stop=lambda: True) is None
    assert len(done) > len(first_fold)
    rankings = vault_map.held_out_rankings(vectors, examples, 10, done=done)
    assert rankings is done and sorted(rankings) == list(range(len(examples)))
    assert all(rankings[i] == ranking for i, ranking in first_fold.items())


def test_mapped_vectors_are_searched_by_the_exact_cosine_of_the_mapped_vectors():
    rng = np.random.default_rng(3)
    vectors, matrix = rng.normal(size=(50, 8)).astype(np.float32), rng.normal(size=(8, 8)).astype(np.float32)
    ids = np.arange(100, 150)
    mapped = MappedVectors(ids, vectors, matrix)
    query = rng.normal(size=8).astype(np.float32)
    unit = (vectors @ matrix) / np.linalg.norm(vectors @ matrix, axis=1, keepdims=True)
    expected = unit @ ((query @ matrix) / np.linalg.norm(query @ matrix))
    hits = mapped.search(query, 5)
    assert [note_id for note_id, _ in hits] == [int(ids[i]) for i in np.argsort(-expected)[:5]]
    assert np.allclose([score for _, score in hits], np.sort(expected)[::-1][:5], atol=1e-5)
    assert len(mapped.search(query, 500)) == 50
    assert mapped.search(np.full(8, np.nan, dtype=np.float32), 5) == []


def test_the_index_keeps_a_map_as_written_and_refuses_any_other_bytes():
    matrix = np.arange(16, dtype=np.float32).reshape(4, 4) / 7
    assert np.array_equal(vault_map.decode(vault_map.encode(matrix)), matrix)
    text = json.loads(vault_map.encode(matrix))
    for damaged in ["", "[]", json.dumps({**text, "dimensions": 5}), json.dumps({**text, "matrix": "not base64!"}),
                    json.dumps({**text, "matrix": vault_map.encode(np.full((4, 4), np.inf, dtype=np.float32)).split('"matrix": "')[1][:-2]})]:
        with pytest.raises(ValueError):
            vault_map.decode(damaged)


def linked_vault(root, notes: int = 30):
    """`notes` notes on a handful of subjects, each linking to the next two of its subject: enough linking notes
    (`fusion_weight.MIN_SOURCES`) for the vault's links to choose."""
    subjects = ["bread and baking", "the night sky", "bicycle repair", "learning the violin", "house plants"]
    names = [f"Note {number:02d}" for number in range(notes)]
    return write_notes(root, {
        f"{name}.md": f"# {name}\n\nA few lines about {subjects[number % 5]}, number {number}.\n\n"
                      f"See [[{names[(number + 5) % notes]}]] and [[{names[(number + 10) % notes]}]].\n"
        for number, name in enumerate(names)})


def kept_map(index):
    return json.loads(index.store.get_meta(fusion_weight.META_KEY)), index.store.get_meta(vault_map.META_KEY)


def test_a_reindex_weighs_the_vaults_map_on_held_out_links_and_keeps_it_only_if_they_gain(tmp_path, open_index):
    index = open_index(linked_vault(tmp_path / "vault"))
    summary = index.reindex()
    chosen, stored = kept_map(index)
    found, map_found = chosen["found"], chosen["map_found"]
    assert set(map_found) == set(found) and 0 < max(map_found.values()) <= chosen["links"] == 60
    assert chosen["mapped"] == vault_map.keeps(found, map_found, chosen["links"]) == (stored is not None)
    best = map_found if chosen["mapped"] else found
    assert best[chosen["weighting"]] == max(best.values())
    assert summary.ranking == index.status().ranking
    assert ("fitted to the vault's links" in summary.ranking) == chosen["mapped"]


def index_with_map(tmp_path, open_index, matrix_of):
    """A reindexed vault whose index then holds a map of our making (`matrix_of(dimensions)`), kept as the
    engine keeps one it chose, and the model's ranking alone (no shared words)."""
    index = open_index(linked_vault(tmp_path / "vault"))
    index.reindex()
    chosen, _ = kept_map(index)
    matrix = matrix_of(len(index.store.embedding_of(index.notes()[0].id)))
    with index.store.transaction():
        index.store.set_meta(fusion_weight.META_KEY, json.dumps({**chosen, "mapped": True, "map_found": chosen["found"]}))
        index.store.set_meta(vault_map.META_KEY, vault_map.encode(matrix))
    index.fuse_lexical = False
    return index, matrix


def model_order(index, path: str | None = None, matrix=None, vector=None) -> list[str]:
    """The notes nearest a note (`path`, itself left out) or a `vector` by the stored vectors' cosine, each vector
    mapped by `matrix` if given."""
    notes = {row.id: row.path for row in index.notes()}
    ids = sorted(notes)
    vectors = np.stack([index.store.embedding_of(note_id) for note_id in ids])
    own = next((ids.index(note_id) for note_id, p in notes.items() if p == path), None)
    query = vectors[own] if own is not None else np.asarray(vector)
    if matrix is not None:
        vectors, query = vectors @ matrix, query @ matrix
    scores = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    return [notes[ids[i]] for i in np.argsort(-scores, kind="stable") if i != own]


def test_related_notes_rank_by_the_mapped_vectors_where_the_vault_kept_a_map_and_questions_by_the_vectors_as_they_are(tmp_path, open_index):
    rng = np.random.default_rng(0)  # a map onto three directions: the mapped ranking is another one
    index, matrix = index_with_map(tmp_path, open_index, lambda d: (rng.normal(size=(d, 3)) @ rng.normal(size=(3, d))).astype(np.float32))
    mapped, plain = model_order(index, "Note 03.md", matrix), model_order(index, "Note 03.md")
    assert mapped[:5] != plain[:5]
    assert [r.path for r in index.related("Note 03.md", k=5)] == mapped[:5]
    assert index.status().ranking == "model alone, its vectors fitted to the vault's links"
    question = index.model.embed_notes([("learning the violin", "")], index.content_tokens)[0]
    assert [hit.path for hit in index.search("learning the violin", k=5)] == model_order(index, vector=question)[:5]
    index.use_vault_map = False
    assert [r.path for r in index.related("Note 03.md", k=5)] == plain[:5]
    assert index.status().ranking == "model alone"


def test_a_damaged_map_ranks_by_the_vectors_as_they_are_and_the_next_reindex_fits_it_again(tmp_path, open_index):
    rng = np.random.default_rng(1)
    index, _ = index_with_map(tmp_path, open_index, lambda d: rng.normal(size=(d, d)).astype(np.float32))
    index.close()
    with sqlite3.connect(index.index_dir / "index.db") as db:
        db.execute("update meta set value = ? where key = ?", ['{"dimensions": 3, "matrix": "AAAA"}', vault_map.META_KEY])
    index = open_index(index.vault)
    index.fuse_lexical = False
    assert [r.path for r in index.related("Note 03.md", k=5)] == model_order(index, "Note 03.md")[:5]
    assert index.reindex().ranking  # chosen again
    chosen, stored = kept_map(index)
    assert chosen["mapped"] == (stored is not None) and (stored is None or vault_map.decode(stored).shape[0] > 3)
