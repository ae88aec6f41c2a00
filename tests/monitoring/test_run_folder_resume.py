"""Resuming a run folder ends with exactly what an uninterrupted run has."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from engine_helpers import metric_values, tiny_config, tiny_data
from networkfed.api import run_federated
from networkfed.core.errors import ConfigError
from networkfed.federated.callbacks import Callback
from networkfed.federated.results import RoundResult

# FedAdam keeps server-side moments: a resume that forgot them would end elsewhere.
CONFIG = tiny_config(rounds=3, strategy="fedadam", baselines=True)


class StopAt(Callback):
    """Raises in ``after_round`` of one round, after the metrics of that round are written
    but before its checkpoint (it is passed as ``progress``, which runs just before it)."""

    def __init__(self, round_num: int, error: BaseException) -> None:
        self.round_num, self.error = round_num, error

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        if result.round_num == self.round_num:
            raise self.error


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("whole") / "run"
    run_federated(CONFIG, tiny_data(), run_dir=folder)
    return folder


def test_ctrl_c_keeps_saved_rounds_and_resume_finishes_identically(
    tmp_path: Path, uninterrupted: Path
) -> None:
    # Prepare: Ctrl-C in round 2, after its metrics line but before its checkpoint
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_federated(CONFIG, tiny_data(), run_dir=run_dir,
                      progress=StopAt(2, KeyboardInterrupt()))
    assert _manifest(run_dir)["status"] == "interrupted"
    assert max(line["round"] for line in _lines(run_dir)) == 2  # round 2 not yet saved

    # Execute
    result = run_federated(CONFIG, tiny_data(), run_dir=run_dir, resume=True)

    # Assert: same summary metrics, same metrics lines, no duplicates
    expected = json.loads((uninterrupted / "summary.json").read_text())
    written = json.loads((run_dir / "summary.json").read_text())
    assert metric_values(written) == metric_values(expected)
    assert _lines(run_dir) == _lines(uninterrupted)
    assert _manifest(run_dir)["status"] == "complete"
    assert result.rounds_completed == 3


def test_a_crash_marks_the_run_failed_and_resume_recovers(
    tmp_path: Path, uninterrupted: Path
) -> None:
    # Prepare
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_federated(CONFIG, tiny_data(), run_dir=run_dir,
                      progress=StopAt(3, RuntimeError("disk on fire")))
    assert _manifest(run_dir)["status"] == "failed"

    # Execute
    run_federated(CONFIG, tiny_data(), run_dir=run_dir, resume=True)

    # Assert
    assert _lines(run_dir) == _lines(uninterrupted)


def test_resume_refuses_a_complete_run(uninterrupted: Path) -> None:
    with pytest.raises(ConfigError, match="complete"):
        run_federated(CONFIG, tiny_data(), run_dir=uninterrupted, resume=True)


def test_resume_refuses_changed_settings(uninterrupted: Path) -> None:
    with pytest.raises(ConfigError, match="rounds"):
        run_federated(CONFIG.model_copy(update={"rounds": 5}), tiny_data(),
                      run_dir=uninterrupted, resume=True)


def test_resume_refuses_other_data(uninterrupted: Path) -> None:
    other = tiny_data(seed=43)
    with pytest.raises(ConfigError, match="fingerprint"):
        run_federated(CONFIG, other, run_dir=uninterrupted, resume=True)
