"""The engine's small GGUF header reader agrees with the reference `gguf` package."""

import numpy as np
import pytest

from notellm.engine.gguf_metadata import GGUFFormatError, read_metadata
from notellm.engine.model import read_notellm_metadata


def test_reads_only_the_keys_asked_for_like_gguf_does(tmp_path):
    gguf = pytest.importorskip("gguf")  # the reference implementation, installed with the train extra
    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    projection = np.arange(12, dtype=np.float32).reshape(3, 4)
    writer.add_array("tokenizer.ggml.tokens", ["a", "bb", "ccc"])
    writer.add_array("notellm.projection", projection.ravel().tolist())
    writer.add_uint32("notellm.projection_rows", 3)
    writer.add_uint32("notellm.prompt_version", 1)
    writer.add_string("general.name", "tiny")
    writer.add_tensor("token_embd.weight", np.zeros((3, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    found = read_metadata(path, {"general.name", "tokenizer.ggml.tokens", "notellm.projection_rows"})
    assert found == {"general.name": "tiny", "tokenizer.ggml.tokens": ["a", "bb", "ccc"], "notellm.projection_rows": 3}
    architecture, matrix, version = read_notellm_metadata(path)
    assert architecture == "llama" and version == 1
    np.testing.assert_array_equal(matrix, projection)


def test_the_base_model_has_no_projection(model_path):
    assert read_notellm_metadata(model_path) == ("llama", None, None)


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "x.gguf"
    path.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(GGUFFormatError):
        read_metadata(path, {"general.name"})


@pytest.mark.parametrize("traits", [
    {}, {"writes_topics": False, "causal_attention": False}, {"keyword_line": 12}, {"pooling": "weighted_mean"},
    {"folder_line": True},
])
def test_a_models_traits_read_back_as_training_wrote_them(tmp_path, traits):
    gguf = pytest.importorskip("gguf")
    from notellm.engine.gguf_metadata import KEYWORD_LINE_KEY, ModelTraits
    from notellm.engine.model import model_traits
    from notellm.training.delta import add_notellm_metadata

    path = tmp_path / "traits.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    add_notellm_metadata(writer, None, 1, ModelTraits(**traits))
    writer.add_tensor("token_embd.weight", np.zeros((3, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    assert model_traits(path) == ModelTraits(**traits)
    # a model without a keyword line carries no key for it, as every model made before the key existed
    assert (KEYWORD_LINE_KEY in read_metadata(path, {KEYWORD_LINE_KEY})) == ("keyword_line" in traits)


def test_a_model_pooled_in_a_way_this_engine_does_not_know_is_refused_in_one_line(tmp_path):
    gguf = pytest.importorskip("gguf")
    from notellm.engine.errors import ModelError
    from notellm.engine.gguf_metadata import POOLING_KEY
    from notellm.engine.model import NoteModel

    path = tmp_path / "future.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint32("notellm.prompt_version", 1)
    writer.add_string(POOLING_KEY, "attention")
    writer.add_tensor("token_embd.weight", np.zeros((3, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    with pytest.raises(ModelError, match="future.gguf pools its embedding by 'attention', which this NoteLLM does not know"):
        NoteModel(path)


def test_folder_line_command_gives_a_delta_the_trait_and_keeps_the_rest(tmp_path, model_path):
    """`notellm-train folder-line` is how the shipped default came to read folders without training."""
    import shutil

    pytest.importorskip("gguf")
    from click.testing import CliRunner

    from conftest import REPO
    from notellm.training.cli import cli
    from notellm.training.delta import read_delta

    shipped = read_delta(REPO / "assets" / "models" / "notellm-default.delta.gguf")
    assert shipped.traits.folder_line  # as it ships
    delta = shutil.copyfile(REPO / "assets" / "models" / "notellm-default.delta.gguf", tmp_path / "copy.delta.gguf")
    runner = CliRunner()
    result = runner.invoke(cli, ["folder-line", str(delta), "--off"])
    assert result.exit_code == 0 and "does not read each note's folder" in result.output
    off = read_delta(delta)
    assert not off.traits.folder_line and off.tag_head.tags == shipped.tag_head.tags
    assert np.array_equal(off.projection, shipped.projection) and off.lora.keys() == shipped.lora.keys()
    assert runner.invoke(cli, ["folder-line", str(delta)]).exit_code == 0
    assert read_delta(delta).traits == shipped.traits
    refused = runner.invoke(cli, ["folder-line", str(model_path)])  # the PyPI base: no NoteLLM keys
    assert refused.exit_code == 1 and "is not a NoteLLM model or delta" in refused.output
