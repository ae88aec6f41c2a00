"""Shared test set-up: one torch thread, Flower quiet, and the real datasets' folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
torch.set_num_threads(1)

# Hypothesis: few examples in CI (fixed, so a CI run is reproducible); hundreds, freshly drawn,
# with `pytest --hypothesis-profile=thorough` or NETWORKFED_HYPOTHESIS_PROFILE=thorough. Tests
# that set max_examples themselves keep it.
settings.register_profile("ci", max_examples=12, deadline=None, derandomize=True,
                          print_blob=True)
settings.register_profile("thorough", max_examples=400, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("NETWORKFED_HYPOTHESIS_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_ENV = "NETWORKFED_DATA_DIR"


def shared_data_dir() -> Path | None:
    """The real datasets: ``$NETWORKFED_DATA_DIR`` or ``../shared/data`` beside the repository."""
    configured = os.environ.get(DATA_DIR_ENV)
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder holding ``ai4i2020/`` and ``cmapss/``; skips locally, fails in CI, when absent."""
    found = shared_data_dir()
    if found is None:
        message = f"real datasets not found (set {DATA_DIR_ENV} or provide ../shared/data)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def ai4i_csv(data_dir: Path) -> Path:
    return data_dir / "ai4i2020" / "ai4i2020.csv"


@pytest.fixture(scope="session")
def cmapss_dir(data_dir: Path) -> Path:
    return data_dir / "cmapss"
