#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, lint included. CI runs exactly this.
# The documentation site's strict build is one of the tests (tests/docs/test_docs_site.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1 OMP_NUM_THREADS=1
.venv/bin/ruff check src tests benchmarks docs
.venv/bin/python -m pytest
