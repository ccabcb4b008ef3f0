#!/usr/bin/env bash
# Refresh docs/screenshots/ and docs/app-responsiveness.txt: the app tests that take them, writing into docs/.
# The window on the sample vault (a note selected, default size; 1024x700; a search) comes from
# tests/test_window.py in a real X server (Xvfb); the welcome page and the responsiveness report from tests/test_app.py.
# (The test suite itself writes them to a temporary folder, so it leaves the tree as it found it.)
set -euo pipefail
cd "$(dirname "$0")/.."
export NOTELLM_DOCS_OUT="$PWD/docs"
.venv/bin/python -m pytest -q tests/test_window.py "$@"
exec .venv/bin/python -m pytest -q tests/test_app.py -k "browse_related_tags_navigation_and_watch or first_run_shows_welcome" "$@"
