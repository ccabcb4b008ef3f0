#!/usr/bin/env bash
# The main job on a fresh machine: install, index the sample vault with the default model, show
# related notes, then open the desktop app on it (when a display is available). The sample vault is the
# user's own copy in the data folder (`notellm-engine sample-vault`), as the app's welcome page opens it:
# a hashtag accepted in the app is written there, never into this repository's assets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# the app checks this too; asking first says it before the index is built, not after
app_can_start=yes
.venv/bin/python -m notellm.app.xcb_check || app_can_start=no
vault="${1:-$(.venv/bin/notellm-engine sample-vault)}"
.venv/bin/notellm-engine reindex "$vault"
echo
echo "==> notes related to 'Wikilinks' in $vault:"
.venv/bin/notellm-engine related "$vault" "user/features/wikilinks.md" -k 5
if [ "$app_can_start" = no ]; then
  echo "(the app opens once the system libraries named above are installed)" >&2
  exit 1
elif [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = Darwin ]; then
  echo "==> opening the NoteLLM app"
  exec .venv/bin/notellm "$vault"
else
  echo "(no display here: run '.venv/bin/notellm $vault' on a desktop to browse it in the app)"
fi
