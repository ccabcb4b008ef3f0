"""From a training run to files the engine runs: merged HF model, GGUF (F32 -> llama.cpp quantizer), delta.

The GGUF reuses the base GGUF's tokenizer and metadata; only the weights change (merged LoRA or full
fine-tune), plus the projection head and the prompt version in the metadata keys `engine/model.py` reads.
transformers un-permutes llama's q/k rows when it loads a GGUF, and takes one off Gemma's norm weights;
`delta.gguf_tensor` puts both back.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gguf
import numpy as np
import torch

from notellm.engine.gguf_metadata import ModelTraits
from notellm.engine.model import ModelHeader, read_model_header
from notellm.engine.tag_head import TagHead

from .delta import (QUANT_TYPES, DeltaError, gguf_permutation, gguf_tensor, head_counts, quantize, read_base, write_delta,
                    write_model_gguf)
from .train import load_run


@dataclass
class ExportResult:
    gguf: dict[str, str] = field(default_factory=dict)  # quantization -> path
    hf_dir: str | None = None
    delta: str | None = None


def gguf_names(hf_names, arch: str, blocks: int) -> dict[str, str]:
    """GGUF tensor name -> Hugging Face parameter name, through gguf's own tensor map."""
    arch_enum = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}[arch]
    tensor_map = gguf.get_tensor_name_map(arch_enum, blocks)
    mapping = {}
    for hf_name in hf_names:
        name = tensor_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is not None:
            mapping.setdefault(name, hf_name)
    return mapping


def lora_factors(lm) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """HF module name (e.g. model.layers.0.self_attn.q_proj.weight) -> (A, B, scale) of each LoRA layer."""
    factors = {}
    for name, module in lm.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            a = module.lora_A["default"].weight.detach().float().cpu().numpy()
            b = module.lora_B["default"].weight.detach().float().cpu().numpy()
            hf_name = name.replace("base_model.model.", "", 1) + ".weight"
            factors[hf_name] = (a, b, float(module.scaling["default"]))
    return factors


def quant_path(out: Path, quant: str, several: bool) -> Path:
    return out.with_name(f"{out.stem}.{quant}{out.suffix}") if several else out


def inherited_tag_head(base_header: ModelHeader | None, pooling: str) -> TagHead | None:
    """A NoteLLM base's tag head goes on with the model trained from it (personalize): that training moves the
    embedding little, and a head is built from the corpus only (`notellm-train tag-head`). Not across a change of
    pooling: the head's directions are means of the base's own pooled embeddings, and the new model's lie elsewhere."""
    if base_header is None or base_header.traits.pooling != pooling:
        return None
    return base_header.tag_head


def export(
    run: Path,
    out: Path,
    quants: list[str] = ("q8_0",),
    hf_dir: Path | None = None,
    delta: Path | None = None,
    keep_f32: bool = False,
    threads: int = 0,
    base: Path | None = None,
) -> ExportResult:
    """Export a run: OUT (one quantization) or OUT.<quant>.gguf (several); optional HF folder and delta.
    `base`: the run's base GGUF on this machine, when the run does not name one that is here (`load_run`)."""
    for quant in quants:
        if quant not in QUANT_TYPES:
            raise DeltaError(f"unknown quantization {quant!r}; choose from {', '.join(QUANT_TYPES)}")
    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    model, config, _ = load_run(Path(run), base=base)
    if delta is not None and config.full:
        raise DeltaError("a full fine-tune changes whole blocks, not LoRA factors: it has no delta; ship the exported GGUF")
    base = config.resolved_tokenizer()  # the GGUF whose tokenizer and metadata the export reuses
    reader = read_base(base)
    arch, blocks, n_head, n_head_kv = head_counts(reader)
    projection = model.projection.weight.detach().float().cpu().numpy()
    result = ExportResult()

    lm = model.lm
    factors = lora_factors(lm) if hasattr(lm, "merge_and_unload") else {}
    merged = lm.merge_and_unload() if hasattr(lm, "merge_and_unload") else lm
    state = {k: v.detach().float().cpu().numpy() for k, v in merged.state_dict().items()}
    to_hf = gguf_names(state, arch, blocks)

    def tensors(name: str) -> np.ndarray:
        if name not in to_hf:
            raise DeltaError(f"the trained model has no tensor for {name}")
        return gguf_tensor(name, n_head, n_head_kv, arch)(state[to_hf[name]])

    f32 = out.with_name(f"{out.stem}.f32{out.suffix}")
    base_header = read_model_header(base) if base.is_file() else None
    # Writes hashtags only if trained for CSFT here and, for a NoteLLM base (personalize), if the base did.
    writes_topics = config.alpha > 0 and config.gen_fraction > 0 and (base_header is None or base_header.traits.writes_topics)
    traits = ModelTraits(writes_topics, causal_attention=not config.bidirectional, keyword_line=config.keyword_line,
                         pooling=config.pooling, folder_line=config.folder_line)
    tag_head = inherited_tag_head(base_header, config.pooling)
    write_model_gguf(base, f32, tensors, projection, config.prompt_version, dtype="f32", name=f"NoteLLM {out.stem}",
                     layers=config.layers, traits=traits, tag_head=tag_head)
    several = len(quants) > 1
    for quant in quants:
        target = quant_path(out, quant, several)
        if quant == "f32":
            shutil.copyfile(f32, target)
        else:
            quantize(f32, target, quant, threads)
        result.gguf[quant] = str(target)
    if not keep_f32:
        f32.unlink()

    if factors and delta is not None:
        from_hf = {hf: g for g, hf in to_hf.items()}
        lora = {}
        scale = None
        for hf_name, (a, b, module_scale) in factors.items():
            name = from_hf[hf_name]
            lora[name] = (a, gguf_permutation(name, n_head, n_head_kv, arch)(b))
            scale = module_scale
        write_delta(Path(delta), base, lora, scale, projection, config.prompt_version, layers=config.layers, traits=traits,
                    tag_head=tag_head)
        result.delta = str(delta)

    if hf_dir is not None:
        hf_dir = Path(hf_dir)
        for attribute in ("quantization_config",):
            if hasattr(merged.config, attribute):
                delattr(merged.config, attribute)
        merged.hf_quantizer = None
        merged.save_pretrained(str(hf_dir), safe_serialization=True)
        from safetensors.numpy import save_file

        save_file({"projection": projection}, str(hf_dir / "notellm_head.safetensors"))
        (hf_dir / "notellm.json").write_text(
            json.dumps({"prompt_version": config.prompt_version, "dim": config.dim, "train_config": asdict(config)}, indent=2) + "\n",
            encoding="utf-8",
        )
        result.hf_dir = str(hf_dir)
    return result
