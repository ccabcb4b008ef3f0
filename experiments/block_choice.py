"""Write a base GGUF that keeps a chosen set of the base's transformer blocks, renumbered 0..N-1, so that
`notellm-train train --base OUT` trains (and `export` exports) a cut of those blocks instead of the first N.

    .venv/bin/python experiments/block_choice.py 0,2,4,6,8,10 runs/blocks/stride2.gguf

Every kept tensor is copied byte for byte (still quantized), as `training.delta.cut_gguf` does for the first N.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gguf

from notellm.engine.config import smollm2_base_model
from notellm.training.delta import block_index, copy_metadata, write_out


def renamed(name: str, new_index: dict[int, int]) -> str | None:
    """`blk.10.attn_q.weight` -> `blk.5.attn_q.weight` when block 10 is the sixth kept; None when not kept."""
    index = block_index(name)
    if index is None:
        return name
    if index not in new_index:
        return None
    parts = name.split(".")
    return ".".join([parts[0], str(new_index[index]), *parts[2:]])


def block_count(reader: gguf.GGUFReader) -> tuple[str, int]:
    """The key of a GGUF's block count (it names the architecture) and the count."""
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    key = gguf.Keys.LLM.BLOCK_COUNT.format(arch=arch)
    return key, int(reader.fields[key].contents())


def choose_blocks(base: Path, blocks: list[int], out: Path) -> Path:
    reader = gguf.GGUFReader(str(base))
    key, total = block_count(reader)
    if sorted(set(blocks)) != blocks or blocks[-1] >= total:
        raise SystemExit(f"blocks must be increasing and below {total}: {blocks}")
    new_index = {old: new for new, old in enumerate(blocks)}
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    copy_metadata(reader, writer, skip={key})
    writer.add_block_count(len(blocks))
    for tensor in reader.tensors:
        name = renamed(tensor.name, new_index)
        if name is not None:
            writer.add_tensor(name, tensor.data, raw_dtype=tensor.tensor_type)
    write_out(writer)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("blocks", help="comma-separated block numbers of the base, increasing")
    parser.add_argument("out", type=Path)
    parser.add_argument("--base", type=Path, default=None, help="base GGUF [default: the PyPI SmolLM2]")
    args = parser.parse_args()
    blocks = [int(b) for b in args.blocks.split(",")]
    print(choose_blocks(args.base or smollm2_base_model(), blocks, args.out))


if __name__ == "__main__":
    main()
