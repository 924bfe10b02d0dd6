#!/usr/bin/env bash
# Create or refresh .venv from the pinned requirements. Reuses the venv when nothing it was built
# from has changed (a hash of the requirement files and pyproject.toml is kept in .venv/.stamp-*).
#   scripts/bootstrap.sh          runtime requirements
#   scripts/bootstrap.sh dev      runtime + test/lint tools
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-runtime}"
req=requirements.txt
[ "$flavour" = dev ] && req=requirements-dev.txt

python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python="$candidate"; break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "bootstrap: Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

# The browser test of the Smarketing page drives Debian's chromium package (README: the browser test).
# As root with apt, install it when missing; otherwise say how (the test then skips, and fails under CI).
if [ "$flavour" = dev ] && ! command -v chromium >/dev/null && [ ! -x "${SMARKETING_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing the chromium package for the browser test (apt-get)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "bootstrap: could not install chromium; the browser test will skip (and fail under CI=true)" >&2
  else
    echo "bootstrap: no chromium; install it for the browser test: sudo apt-get install -y chromium" >&2
  fi
fi

stamp=".venv/.stamp-$flavour"
want=$(cat requirements.txt "$req" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/python ]; then
  exit 0
fi
# A .venv that links to another checkout's (a git worktree sharing one venv) is never installed into: its
# editable `smarketing` would then point at this checkout. airflow-env.sh puts this checkout's include/
# first on PYTHONPATH instead.
if [ -L .venv ] && [ -x .venv/bin/python ]; then
  echo "bootstrap: .venv links to $(readlink -f .venv), shared with another checkout: not installing into it" \
    "(refresh it from the checkout it belongs to)" >&2
  exit 0
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
echo "bootstrap: installing $req into .venv (first run takes a few minutes)" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "$want" > "$stamp"
