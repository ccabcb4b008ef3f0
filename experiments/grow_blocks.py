"""Write a model that is a trained NoteLLM GGUF with the base's next blocks put back on top of it, so that
`notellm-train train --base OUT` continues a trained 6-block model as an 8-block one: its own blocks,
projection head and NoteLLM keys as they are, and the base's blocks 6 and 7 as the base had them.

    .venv/bin/python experiments/grow_blocks.py assets/models/notellm-default.gguf 8 runs/grown/default-8.gguf

Tensors are copied byte for byte (the model's F16, the base's Q4_1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gguf

from block_choice import block_count  # experiments/ is on the path when a script of it runs
from notellm.engine.config import smollm2_base_model
from notellm.training.delta import block_index, copy_field, copy_metadata, write_out


def grow(model: Path, blocks: int, base: Path, out: Path) -> Path:
    trained, below = gguf.GGUFReader(str(model)), gguf.GGUFReader(str(base))
    key, have = block_count(trained)
    available = block_count(below)[1]
    if not have < blocks <= available:
        raise SystemExit(f"{model.name} has {have} blocks; the base has {available}; asked for {blocks}")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), trained.fields[gguf.Keys.General.ARCHITECTURE].contents())
    copy_metadata(trained, writer, skip={key})
    for field in trained.fields.values():  # NoteLLM's keys (the projection head) too, which copy_metadata leaves out
        if field.name.startswith("notellm."):
            copy_field(field, writer)
    writer.add_block_count(blocks)
    for tensor in trained.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    for tensor in below.tensors:
        index = block_index(tensor.name)
        if index is not None and have <= index < blocks:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    write_out(writer)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trained NoteLLM GGUF cut from the base")
    parser.add_argument("blocks", type=int, help="blocks of the grown model")
    parser.add_argument("out", type=Path)
    parser.add_argument("--base", type=Path, default=None, help="the base it was cut from [default: the PyPI SmolLM2]")
    args = parser.parse_args()
    print(grow(args.model, args.blocks, args.base or smollm2_base_model(), args.out))


if __name__ == "__main__":
    main()
