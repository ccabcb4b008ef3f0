"""The tag head: the tags a model names from a note's embedding, learnt from tagged notes of other vaults."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from notellm.engine.errors import ModelError
from notellm.engine.model import NoteModel, read_model_header
from notellm.engine.tag_head import TagHead
from notellm.training.cli import cli
from notellm.training.delta import read_delta, write_tag_head
from notellm.training.tag_head import TagHeadConfig, head_from_vectors, head_tag

from conftest import REPO, write_notes


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_note_gets_the_tags_nearest_its_embedding_never_its_own():
    head = TagHead(("kubernetes", "cooking", "japanese"), np.eye(3, dtype=np.float32))
    assert head.rank(unit(0.9, 0.1, 0.3), limit=2) == ["kubernetes", "japanese"]
    assert head.rank(unit(0.9, 0.1, 0.3), limit=2, exclude=["#Kubernetes"]) == ["japanese", "cooking"]


def test_the_vaults_subject_goes_only_to_the_notes_it_fits_best():
    head = TagHead(("japanese", "cooking"), np.eye(2, dtype=np.float32))
    vault = np.array([unit(1.0, 0.02 * i) for i in range(30)])  # every note is about Japanese, note 0 the most
    given = [head.rank(note, vault, limit=1) for note in vault]
    assert [i for i, tags in enumerate(given) if tags == ["japanese"]] == [0, 1, 2]  # a tenth of the vault
    assert [i for i, tags in enumerate(given) if tags == ["cooking"]] == [27, 28, 29]  # the same holds for every tag
    assert head.rank(vault[5], limit=1) == ["japanese"]  # without the vault, nothing holds it back


def test_a_head_learns_a_tag_from_every_vault_that_uses_it_in_any_spelling():
    axes = np.eye(4, dtype=np.float32)
    notes, vectors = [], {}

    def add(vault: str, tags: list[str], vector: np.ndarray) -> None:
        vectors[len(notes)] = vector / np.linalg.norm(vector)
        notes.append({"vault": vault, "title": "", "text": "", "tags": tags})

    for i in range(4):  # one vault files its Kubernetes notes under category/, another tags them plainly
        add("one", ["category/kubernetes"], axes[0] + 0.2 * axes[1 + i % 3])
        add("two", ["Kubernetes"], axes[0] - 0.2 * axes[1 + i % 3])
    for direction in (axes[1], axes[2], axes[3]):
        add("one", ["seedling"], direction)
        add("two", ["web-dev"], axes[3])
    for _ in range(4):
        add("one", ["webdev"], axes[3])
    add("two", ["rare"], axes[3])
    add("two", ["rare"], axes[3])  # two notes: fewer than min_notes

    head = head_from_vectors(notes, vectors, TagHeadConfig(min_notes=3))
    assert head.tags == ("kubernetes", "seedling", "webdev")  # one tag in two spellings: the one more notes use
    assert head.vectors[0] @ axes[0] > 0.99  # the two vaults' directions averaged: their sideways parts cancel
    assert head_tag("status/Machine Learning") == "machine-learning" and head_tag("###") is None
    assert head_tag("mte220") is None and head_tag("placa-stm32-f302r8") is None  # one vault's own names


def test_a_tag_head_travels_in_the_model_file_and_its_delta(tmp_path, shipped_model):
    head = TagHead(("kubernetes", "baking"), np.stack([unit(*([1.0] + [0.0] * 127)), unit(*([0.0, 1.0] + [0.0] * 126))]))
    model = write_tag_head(shutil.copyfile(shipped_model, tmp_path / "model.gguf"), head)
    loaded = NoteModel(model)
    try:
        assert loaded.tag_head.tags == head.tags and np.allclose(loaded.tag_head.vectors, head.vectors)
    finally:
        loaded.close()
    delta = write_tag_head(shutil.copyfile(REPO / "assets/models/notellm-default.delta.gguf", tmp_path / "model.delta.gguf"), head)
    assert read_delta(delta).tag_head.tags == head.tags  # rebuild_from_delta writes it into the rebuilt model

    narrow = write_tag_head(tmp_path / "model.gguf", TagHead(("kubernetes",), np.ones((1, 16), dtype=np.float32)))
    assert read_model_header(narrow).tag_head.dimensions == 16
    with pytest.raises(ModelError, match="tag head has 16 dimensions, its embedding 128"):
        NoteModel(narrow)


def test_tag_head_command_teaches_a_model_the_tags_of_a_prepared_folder(tmp_path, shipped_model, open_index):
    notes = {}
    for i, (topic, text) in enumerate([("kubernetes", "Pods, deployments and services in a Kubernetes cluster; kubectl apply."),
                                       ("baking", "Sourdough bread: starter, flour, water, salt, a long proof and a hot oven.")] * 4):
        notes[f"{topic} {i}.md"] = f"---\ntags: [{topic}]\n---\n# {topic.title()} note {i}\n\n{text} Part {i}.\n"
    tagged = write_notes(tmp_path / "tagged", notes)
    runner = CliRunner()
    prepared = runner.invoke(cli, ["prepare", str(tagged), "-o", str(tmp_path / "data")])
    assert prepared.exit_code == 0, prepared.output
    model = shutil.copyfile(shipped_model, tmp_path / "model.gguf")
    result = runner.invoke(cli, ["tag-head", str(tmp_path / "data"), str(model), "--threads", "2"])
    assert result.exit_code == 0, result.output
    assert "a tag head of 2 tags from 8 tagged notes" in result.output
    assert read_model_header(model).tag_head.tags == ("baking", "kubernetes")

    untagged = write_notes(tmp_path / "untagged", {
        "cluster.md": "# Our cluster\n\nThe Kubernetes deployments and pods of the team, applied with kubectl.\n",
        "bread.md": "# Weekend baking\n\nA sourdough loaf: feed the starter, mix flour and water, proof overnight, bake hot.\n",
        "other.md": "# Reading list\n\nBooks to read this winter.\n"})
    index = open_index(untagged, model=model)
    index.reindex()
    assert index.suggest_tags("cluster.md")[0] == "kubernetes"
    assert index.suggest_tags("bread.md")[0] == "baking"  # a tag of the model's goes only where the vault writes it


def test_a_damaged_tag_head_is_refused_in_one_line(tmp_path):
    import gguf

    from notellm.engine.gguf_metadata import TAG_HEAD_TAGS_KEY, TAG_HEAD_VECTORS_KEY

    path = tmp_path / "damaged.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_array(TAG_HEAD_TAGS_KEY, ["kubernetes", "baking", "japanese"])
    writer.add_key_value(TAG_HEAD_VECTORS_KEY, [0.5] * 5, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.FLOAT32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelError, match=r"damaged\.gguf has a damaged tag head") as refused:
        read_model_header(path)
    assert "\n" not in str(refused.value)
