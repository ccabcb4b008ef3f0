#!/usr/bin/env bash
# Xvfb and the system libraries Qt's X11 plugin lacks here (app/xcb_check.py finds them with ldd), for
# tests/test_window.py, and xdotool, which types into the frozen window of tests/test_packaging.py:
# installed with apt where there is apt and the right to use it, else named.
set -euo pipefail
cd "$(dirname "$0")/.."
wanted=$(.venv/bin/python -m notellm.app.xcb_check --apt-packages)
command -v Xvfb >/dev/null || wanted="xvfb $wanted"
command -v xdotool >/dev/null || wanted="xdotool $wanted"
[ -z "${wanted// /}" ] && exit 0
as_root=""
[ "$(id -u)" = 0 ] || as_root="sudo -n"
if command -v apt-get >/dev/null && { [ -z "$as_root" ] || sudo -n true 2>/dev/null; }; then
  echo "==> installing system packages for the X11 window tests: $wanted"
  export DEBIAN_FRONTEND=noninteractive
  # A failed install must not stop the suite: the window test then fails with the app's own message.
  # shellcheck disable=SC2086  # one word per package
  if ! { $as_root apt-get update -qq >/dev/null && $as_root apt-get install -y -qq --no-install-recommends $wanted >/dev/null; }; then
    echo "could not install $wanted with apt-get: tests/test_window.py will fail until they are installed" >&2
  fi
else
  echo "tests/test_window.py needs these system packages: $wanted" >&2
fi
