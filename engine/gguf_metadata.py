"""Read chosen metadata keys from a GGUF file's header, skipping everything else, and one tensor's rows.

A full GGUF parser (gguf.GGUFReader) decodes every tokenizer string and takes seconds on a small
model; the engine only needs a few `notellm.*` keys and the output matrix (`engine.logit_readout`), so
it walks the key/value section and seeks past what it does not want. Format:
https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from math import prod
from typing import BinaryIO, Iterator, Sequence

import numpy as np

from .pooling import LAST_TOKEN

# The keys a NoteLLM model adds to a GGUF's metadata: training writes them, the engine reads them.
PROJECTION_KEY = "notellm.projection"
PROJECTION_ROWS_KEY = "notellm.projection_rows"
PROMPT_VERSION_KEY = "notellm.prompt_version"
# False for a model trained without CSFT: it embeds but does not write hashtags (absent: it may).
WRITES_TOPICS_KEY = "notellm.writes_topics"
# False for a model trained with every prompt token seeing the whole note: llama.cpp must run it with
# causal attention off (absent: causal, as every decoder).
CAUSAL_ATTENTION_KEY = "notellm.causal_attention"
# N > 0 for a model trained with the note's N most frequent content words on a line before its text
# (`engine.prompt.with_keyword_line`): the engine must prompt it so (absent: 0, the text as it is).
KEYWORD_LINE_KEY = "notellm.keyword_line"
# True for a model that reads the note's folder as the first line of its content (`engine.prompt.with_folder_line`):
# the engine must prompt it so (absent: false, the folder unread).
FOLDER_LINE_KEY = "notellm.folder_line"
# Which final hidden states make the embedding (`engine.pooling`; absent: `pooling.LAST_TOKEN`, the compression token).
POOLING_KEY = "notellm.pooling"
# The tag head (`engine.tag_head`): its tags, and their directions row-major (one row of the embedding's
# width per tag). Absent: the model names no tags of its own.
TAG_HEAD_TAGS_KEY = "notellm.tag_head.tags"
TAG_HEAD_VECTORS_KEY = "notellm.tag_head.vectors"


@dataclass(frozen=True)
class ModelTraits:
    """How a NoteLLM model file must be run, beyond its weights: the keys above (absent: a base model's)."""

    writes_topics: bool = True  # trained for CSFT: it writes hashtags
    causal_attention: bool = True  # False: bidirectional over the note prompt
    keyword_line: int = 0  # N > 0: its prompts start the note's text with its N keywords
    pooling: str = LAST_TOKEN  # one of engine.pooling.POOLINGS
    folder_line: bool = False  # its prompts start the note's content with the note's folder

    @classmethod
    def from_metadata(cls, values: dict) -> "ModelTraits":
        """From a model file's metadata values by key (absent: writes topics, causal attention, no keyword line,
        the last token's pooling, no folder line)."""
        return cls(bool(values.get(WRITES_TOPICS_KEY, True)), bool(values.get(CAUSAL_ATTENTION_KEY, True)),
                   int(values.get(KEYWORD_LINE_KEY, 0)), str(values.get(POOLING_KEY, LAST_TOKEN)),
                   bool(values.get(FOLDER_LINE_KEY, False)))

    def as_metadata(self) -> dict[str, bool | int | str]:
        """The metadata values by key that `from_metadata` reads back; no keyword line, the last token's pooling and
        no folder line write no key, so such a model reads as every model before those keys existed."""
        values: dict[str, bool | int | str] = {WRITES_TOPICS_KEY: self.writes_topics, CAUSAL_ATTENTION_KEY: self.causal_attention}
        if self.keyword_line:
            values[KEYWORD_LINE_KEY] = self.keyword_line
        if self.pooling != LAST_TOKEN:
            values[POOLING_KEY] = self.pooling
        if self.folder_line:
            values[FOLDER_LINE_KEY] = True
        return values


TRAIT_KEYS = (WRITES_TOPICS_KEY, CAUSAL_ATTENTION_KEY, KEYWORD_LINE_KEY, POOLING_KEY, FOLDER_LINE_KEY)

MAGIC = b"GGUF"
# value type -> (struct format, size) for fixed-size scalars
SCALARS = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
           6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}
NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "?", 10: "<u8", 11: "<i8", 12: "<f8"}
STRING, ARRAY = 8, 9


class GGUFFormatError(ValueError):
    pass


def _read(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise GGUFFormatError("file ends inside its metadata")
    return data


def _u64(handle: BinaryIO) -> int:
    return struct.unpack("<Q", _read(handle, 8))[0]


def _string(handle: BinaryIO) -> str:
    return _read(handle, _u64(handle)).decode("utf-8", errors="replace")


def _value(handle: BinaryIO, kind: int, keep: bool):
    if kind in SCALARS:
        fmt, size = SCALARS[kind]
        data = _read(handle, size)
        return struct.unpack(fmt, data)[0] if keep else None
    if kind == STRING:
        length = _u64(handle)
        if keep:
            return _read(handle, length).decode("utf-8", errors="replace")
        handle.seek(length, 1)
        return None
    if kind == ARRAY:
        item_kind = struct.unpack("<I", _read(handle, 4))[0]
        count = _u64(handle)
        if item_kind in NUMPY:
            size = np.dtype(NUMPY[item_kind]).itemsize * count
            if keep:
                return np.frombuffer(_read(handle, size), dtype=NUMPY[item_kind])
            handle.seek(size, 1)
            return None
        items = [_value(handle, item_kind, keep) for _ in range(count)]
        return items if keep else None
    raise GGUFFormatError(f"unknown metadata value type {kind}")


def _header(handle: BinaryIO) -> tuple[int, int]:
    """(tensor count, key/value count) after checking the magic and version; the handle is left at the first key."""
    if handle.read(4) != MAGIC:
        raise GGUFFormatError("not a GGUF file (no GGUF magic)")
    version = struct.unpack("<I", _read(handle, 4))[0]
    if version < 2:
        raise GGUFFormatError(f"GGUF version {version} is too old")
    return _u64(handle), _u64(handle)


def _keys(handle: BinaryIO, count: int, keys: set[str], to_the_end: bool) -> dict:
    """The values of `keys` among the `count` key/value pairs at the handle; without `to_the_end` it stops once
    all are found, else it leaves the handle after the last pair (where the tensor infos start)."""
    found = {}
    for _ in range(count):
        key = _string(handle)
        kind = struct.unpack("<I", _read(handle, 4))[0]
        value = _value(handle, kind, key in keys)
        if key in keys:
            found[key] = value
            if len(found) == len(keys) and not to_the_end:
                break
    return found


def read_metadata(path: Path, keys: set[str]) -> dict:
    """The values of `keys` present in the GGUF at `path` (numeric arrays as numpy arrays)."""
    with open(path, "rb") as handle:
        _, key_count = _header(handle)
        return _keys(handle, key_count, keys, to_the_end=False)


ALIGNMENT_KEY = "general.alignment"
DEFAULT_ALIGNMENT = 32  # the format's, when the file does not say


def tensor_rows(path: Path, names: Sequence[str], rows_per_block: int = 4096) -> Iterator[np.ndarray]:
    """The first of the tensors `names` that the GGUF at `path` holds, as float32 blocks of up to
    `rows_per_block` rows (a row: `ne[0]` values, e.g. one token's row of an embedding matrix), dequantized
    by gguf-py block by block, so a large matrix never sits in memory at full precision."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import dequantize

    with open(path, "rb") as handle:
        tensor_count, key_count = _header(handle)
        alignment = int(_keys(handle, key_count, {ALIGNMENT_KEY}, to_the_end=True).get(ALIGNMENT_KEY, DEFAULT_ALIGNMENT))
        tensors = {}
        for _ in range(tensor_count):
            name = _string(handle)
            dimensions = struct.unpack("<I", _read(handle, 4))[0]
            shape = struct.unpack(f"<{dimensions}Q", _read(handle, 8 * dimensions))
            kind, offset = struct.unpack("<I", _read(handle, 4))[0], _u64(handle)
            tensors[name] = (shape, kind, offset)
        data_start = -(-handle.tell() // alignment) * alignment
    name = next((name for name in names if name in tensors), None)
    if name is None:
        raise GGUFFormatError(f"no tensor {' or '.join(names)}")
    shape, kind, offset = tensors[name]
    quantization = GGMLQuantizationType(kind)
    block_values, block_bytes = GGML_QUANT_SIZES[quantization]
    row_bytes = shape[0] // block_values * block_bytes
    rows = prod(shape[1:])
    stored = np.memmap(path, dtype=np.uint8, mode="r", offset=data_start + offset, shape=(rows, row_bytes))
    for start in range(0, rows, rows_per_block):
        yield dequantize(np.ascontiguousarray(stored[start:start + rows_per_block]), quantization).reshape(-1, shape[0]).astype(np.float32)
