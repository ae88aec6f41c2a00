"""``networkfed simulate --task rul`` and ``predict`` after it: flags reach the run, refusals
are one line with the right exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import tomllib
from typer.testing import CliRunner

from networkfed.cli.main import app
from tiny_runs import write_fleet_csv

runner = CliRunner()


@pytest.fixture(scope="module")
def fleet_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fleet_csv(tmp_path_factory.mktemp("fleet_cli") / "fleet.csv")


def _fleet_flags(fleet_csv: Path) -> list[str]:
    return ["--dataset", "csv", "--data-path", str(fleet_csv), "--site-column", "plant",
            "--group-column", "machine", "--time-column", "cycle", "--split", "machine",
            "--feature-columns", "wear,vibration,noise", "--sequence-length", "5"]


def test_simulate_and_predict_a_rul_run(fleet_csv: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = runner.invoke(app, [
        "simulate", *_fleet_flags(fleet_csv), "--task", "rul", "--rul-column", "rul",
        "--rul-cap", "80", "--rul-loss", "huber", "--model", "lstm", "--rounds", "1",
        "--local-epochs", "1", "--min-fit-clients", "2", "--workers", "0",
        "--run-dir", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    saved = tomllib.loads((run_dir / "config.toml").read_text())
    assert saved["rul_loss"] == "huber"
    assert (saved["data"]["task"], saved["data"]["rul_cap"]) == ("rul", 80)
    assert "rmse" in json.loads(result.stdout)["final"]

    history = runner.invoke(app, ["history", str(run_dir)])
    assert history.exit_code == 0, history.output
    assert "val RMSE" in history.output and "best validation RMSE: round 1" in history.output

    out = tmp_path / "predictions.csv"
    predicted = runner.invoke(app, ["predict", "--run", str(run_dir), "--data", str(fleet_csv),
                                    "--out", str(out), "--horizon", "15", "--json"])
    assert predicted.exit_code == 0, predicted.output
    summary = json.loads(predicted.stdout)
    table = pd.read_csv(out)
    assert summary["threshold"] == 15 and summary["metrics"]["rmse"] > 0
    assert ((table["rul_predicted"] <= 15) == table["alarm"].astype(bool)).all()


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        (["--task", "rul"], 2, "source of remaining life"),
        (["--task", "rul", "--run-to-failure"], 2, "group-column"),
        (["--task", "rul", "--rul-column", "rul", "--class-weighting", "none"], 2,
         "class_weighting is a classification option"),
        (["--rul-cap", "100", "--label", "rul"], 2, "rul_cap needs task"),
        (["--task", "rul", "--rul-column", "cycle_typo"], 3, "cycle_typo"),
    ],
)
def test_refusals_are_one_line_with_the_exit_code(
    fleet_csv: Path, tmp_path: Path, flags: list[str], code: int, message: str
) -> None:
    data = _fleet_flags(fleet_csv) if "--rul-column" in flags or "--label" in flags else []
    if "--run-to-failure" in flags:
        data = ["--dataset", "csv", "--data-path", str(fleet_csv)]
    result = runner.invoke(app, ["simulate", *data, *flags, "--rounds", "1",
                                 "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_tune_ranks_rul_trials_by_validation_rmse(fleet_csv: Path, tmp_path: Path) -> None:
    study = tmp_path / "study"
    result = runner.invoke(app, [
        "tune", *_fleet_flags(fleet_csv), "--task", "rul", "--run-to-failure", "--rul-cap", "80",
        "--model", "lstm", "--trials", "2", "--rounds", "1", "--min-fit-clients", "2",
        "--study-dir", str(study), "--quiet"])
    assert result.exit_code == 0, result.output
    trials = pd.read_csv(study / "trials.csv")

    # the score is the validation RMSE itself: positive, and the best trial has the lowest
    assert (trials["value"] > 0).all()
    best = json.loads((study / "best_hyperparameters.json").read_text())
    chosen = trials.loc[trials["value"].idxmin()]
    assert best["best_value"] == pytest.approx(chosen["value"])
    assert best["hparams"]["learning_rate"] == pytest.approx(chosen["param.learning_rate"])
