#!/usr/bin/env bash
# Refresh the README's screenshots and docs/app-responsiveness.txt: the app tests that take them, writing into docs/.
# (The test suite itself writes them to a temporary folder, so it leaves the tree as it found it.)
set -euo pipefail
cd "$(dirname "$0")/.."
NOTELLM_DOCS_OUT="$PWD/docs" exec .venv/bin/python -m pytest -q tests/test_app.py \
  -k "browse_related_tags_navigation_and_watch or first_run_shows_welcome" "$@"
