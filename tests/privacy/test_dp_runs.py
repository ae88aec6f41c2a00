"""Real runs with ``--dp client``: ε everywhere a run records it, identical after kill -9 and
``--resume``, and bad settings refused in one line (exit 2) with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from opacus.accountants import RDPAccountant
from typer.testing import CliRunner

from engine_helpers import TINY_ROWS, metric_values
from networkfed.cli.main import app
from tiny_runs import make_run

runner = CliRunner()
TINY = ["--rows-per-site", str(TINY_ROWS), "--local-epochs", "1", "--workers", "0"]
DP = ["--dp", "client", "--dp-clip", "1.0"]


def _simulate(*args: str) -> Any:
    return runner.invoke(app, ["simulate", *args])


def _opacus_epsilon(sigma: float, rate: float, rounds: int, delta: float = 1e-5) -> float:
    accountant = RDPAccountant()
    for _ in range(rounds):
        accountant.step(noise_multiplier=sigma, sample_rate=rate)
    return accountant.get_epsilon(delta=delta)


def test_epsilon_is_recorded_every_round_everywhere(tmp_path: Path) -> None:
    # Execute: 3 rounds, 2 of 3 sites a round, server-side noise
    run_dir = tmp_path / "run"
    result = make_run(run_dir, model="lstm", rounds=3, dp="client", dp_clip=0.5, dp_noise=1.5,
                      fraction_fit=0.67, min_fit_clients=2)

    # Assert: metrics.jsonl, checkpoint metadata, summary.json and the report agree with Opacus
    expected = [_opacus_epsilon(1.5, 2 / 3, r) for r in (1, 2, 3)]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [r["epsilon"] for r in rows
              if r["site"] == "overall" and r["split"] == "test" and r["round"] > 0]
    assert logged == pytest.approx(expected, rel=1e-9)
    checkpoint = json.loads((run_dir / "checkpoints" / "global" / "round_0002.json")
                            .read_text())
    assert checkpoint["extra"]["privacy"]["epsilon"] == pytest.approx(expected[1], rel=1e-9)
    summary = json.loads((run_dir / "summary.json").read_text())["privacy"]
    assert summary["epsilon"] == pytest.approx(expected[2], rel=1e-9) == result.privacy["epsilon"]
    assert summary["rounds_accounted"] == 3 and summary["sample_rate"] == pytest.approx(2 / 3)
    assert f"ε = {expected[2]:.3f}" in (run_dir / "report.html").read_text()


def test_cli_prints_epsilon_per_round(tmp_path: Path) -> None:
    result = _simulate(*TINY, *DP, "--dp-noise", "2", "--rounds", "2", "--run-dir",
                       str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    for rounds in (1, 2):
        assert f"ε={_opacus_epsilon(2.0, 1.0, rounds):.3g}" in result.output


@pytest.mark.parametrize(("args", "names"), [
    (["--dp-epsilon", "0"], "dp_epsilon"),
    (["--dp-epsilon", "-1"], "dp_epsilon"),
    (["--dp-noise", "1", "--dp-delta", "0.01"], "below 1/"),
    (["--dp-noise", "1", "--dp-clip", "0"], "dp_clip"),
    (["--dp-noise", "1", "--strategy", "krum"], "krum looks at individual updates"),
    (["--dp-noise", "1", "--strategy", "fedmedian"], "fedmedian looks at individual"),
    (["--dp-noise", "1", "--dp-epsilon", "2"], "exactly one"),
    (["--dp-noise", "1", "--model", "xgboost"], "tree ensemble"),
    (["--dp-epsilon", "4", "--model", "xgboost"], "tree ensemble"),
    ([], "exactly one"),
    (["--dp-epsilon", "1"], "target ε 1 needs noise multiplier"),
])
def test_bad_dp_settings_exit_2_in_one_line_and_write_nothing(
    tmp_path: Path, args: list[str], names: str
) -> None:
    # Execute
    run_dir = tmp_path / "run"
    result = _simulate(*TINY, *DP, "--rounds", "3", *args, "--run-dir", str(run_dir))

    # Assert
    assert result.exit_code == 2, result.output
    assert names in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2  # one line (the console may wrap it)
    assert not run_dir.exists()


def test_dp_options_without_dp_are_refused(tmp_path: Path) -> None:
    result = _simulate(*TINY, "--dp-clip", "1", "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "--dp-clip" in result.output


def test_few_sites_refusal_says_how_much_noise(tmp_path: Path) -> None:
    # The message has the numbers: the multiplier for 3 sites and 10 rounds at ε 1
    result = _simulate(*TINY, *DP, "--dp-epsilon", "1", "--rounds", "10", "--run-dir",
                       str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "at 3 sites and 10 rounds" in " ".join(result.output.split())


# --- kill -9, then --resume: the same ε ----------------------------------------------------

KILL_ARGS = ["--rows-per-site", "600", "--rounds", "4", "--local-epochs", "2", "--workers", "0",
             "--seed", "5", "--quiet", *DP, "--dp-noise", "1.2", "--dp-side", "client"]


@pytest.mark.slow
def test_epsilon_is_identical_after_kill_9_and_resume(tmp_path: Path) -> None:
    # Prepare: the uninterrupted run, and the same run killed once round 1 is saved
    whole = tmp_path / "whole"
    assert _simulate(*KILL_ARGS, "--run-dir", str(whole)).exit_code == 0
    killed = tmp_path / "killed"
    code = "from networkfed.cli.entry import main; main()"
    process = subprocess.Popen([sys.executable, "-c", code, "simulate", *KILL_ARGS,
                                "--run-dir", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    saved = _wait_for_saved_round(process, killed)
    process.kill()
    process.wait(timeout=30)
    assert saved < 4

    # Execute
    result = _simulate("--resume", "--run-dir", str(killed), "--quiet")

    # Assert: same ε (and every metric), composed over all 4 rounds
    assert result.exit_code == 0, result.output
    expected = json.loads((whole / "summary.json").read_text())
    resumed = json.loads((killed / "summary.json").read_text())
    assert resumed["privacy"] == expected["privacy"]
    assert resumed["privacy"]["rounds_accounted"] == 4
    assert resumed["privacy"]["epsilon"] == pytest.approx(_opacus_epsilon(1.2, 1.0, 4))
    assert metric_values(resumed) == metric_values(expected)


def _wait_for_saved_round(process: subprocess.Popen[bytes], run_dir: Path) -> int:
    state = run_dir / "resume" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if state.is_file() and json.loads(state.read_text())["completed_round"] >= 1:
            return int(json.loads(state.read_text())["completed_round"])
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    raise AssertionError("no round was saved in time")


def test_privacy_page_shows_the_real_refusal(ai4i_csv: Path, tmp_path: Path) -> None:
    # The "few sites need much noise" message on the Privacy page is the one a run prints
    page = (Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "privacy.md")
    shown = next(line for line in page.read_text(encoding="utf-8").splitlines()
                 if line.startswith("error: invalid value 1.0 for option 'dp_epsilon"))
    result = _simulate("--dataset", "ai4i2020", "--data-path", str(ai4i_csv), "--model",
                       "lstm", "--rounds", "10", *DP, "--dp-epsilon", "1", "--run-dir",
                       str(tmp_path / "run"))
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == shown
