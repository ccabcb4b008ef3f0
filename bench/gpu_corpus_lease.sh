#!/usr/bin/env bash
# One GPU-lease call: install the carried wheels, train bench/gpu_corpus.py's variants, bring back slim checkpoints.
#   run(command="bash bench/gpu_corpus_lease.sh 420 c64,c128,m64,c64r16", carry=["gpu", ".whl"])
# $1: seconds of training budget, $2: variants. gpu/ is bench/gpu_pack.py's output, .whl/ the wheels it lacks.
set -euo pipefail
budget=${1:-420}
variants=${2:-c64,c128,m64}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
python3 -c "import peft" 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/opt/*.whl
mkdir -p /tmp/pkg/notellm
cp notellm/*.py /tmp/pkg/notellm/
ln -sfn "$PWD/engine" /tmp/pkg/notellm/engine
ln -sfn "$PWD/training" /tmp/pkg/notellm/training
export PYTHONSAFEPATH=1 PYTHONPATH=/tmp/site:/tmp/pkg PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
gunzip -f gpu/data/*.gz
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, transformers, peft, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, 'accelerate', accelerate.__version__)"
python3 -c "import notellm.training.train, notellm.training.evaluate"
python3 bench/gpu_corpus.py --pack gpu -o "$OUT" --budget-s "$budget" --variants "$variants" 2>&1 \
    | grep -v -e "Converting and de-quantizing" -e "Loading weights" -e "is_gradient_checkpointing" -e "warnings.warn" | tee "$OUT/train.log"
ls -la "$OUT"
