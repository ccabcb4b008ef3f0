#!/usr/bin/env bash
# Install everything (engine, app, training, benchmarks, tests) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh train,test,bench
exec .venv/bin/python -m pytest "$@"
