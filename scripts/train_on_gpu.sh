#!/usr/bin/env bash
# Train on a machine with a GPU from a pack made by scripts/pack_for_gpu.sh, and leave a small run to bring back.
# Usage: bash train_on_gpu.sh PACK OUT [more `notellm-train train` options, e.g. --steps 1737 --batch-pairs 64]
# Needs Python 3.11+ with PyTorch, transformers, peft and accelerate. Every wheel in PACK/wheels is installed as it
# is (this project's, and those of its dependencies that the machine lacks), so no network is needed.
# OUT/run is the slim run folder: copy it back and run `notellm-train export OUT/run -o model.gguf` there.
set -euo pipefail
pack=$1 out=$2
shift 2
python3 -m venv --system-site-packages "$out/venv"  # the machine's own PyTorch stays visible
"$out/venv/bin/python" -m pip install --quiet --no-index --no-deps "$pack"/wheels/*.whl
train="$out/venv/bin/notellm-train"
mapfile -t implied < <("$train" unpack "$pack")  # the data folder, then --base, --tokens, --layers, ...
(( ${#implied[@]} )) || exit 1  # unpack has said why
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
"$train" train "${implied[@]}" --gen-fraction 0 --quiet -o "$out/work" "$@" 2>&1 | tee "$out/train.log"
"$train" slim "$out/work" -o "$out/run"
du -sh "$out/run"
