#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, lint included. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1 OMP_NUM_THREADS=1
.venv/bin/ruff check src tests benchmarks
.venv/bin/python -m pytest
