#!/usr/bin/env bash
# Create .venv (if missing) and install NetworkFed with everything its tests need.
# torch==2.13.0 is the CPU build this kind of machine keeps on disk; the package itself only
# asks for a torch range, so other machines keep their own build. Safe to run again: pip
# skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev]"
