#!/usr/bin/env bash
# Install everything (engine, app, training, benchmarks, tests) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh train,test,bench
scripts/system_packages.sh  # Xvfb and Qt's X11 libraries: tests/test_window.py opens a real window
exec .venv/bin/python -m pytest "$@"
