"""``networkfed predict``: per-window probabilities and alarms, clear errors, right exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from networkfed.cli.main import app
from tiny_runs import CSV_SITES, LABEL, make_run, plant_csv_config, write_plant_csv

runner = CliRunner()


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("predict_cli")
    make_run(root / "run", data=plant_csv_config(write_plant_csv(root / "plants.csv")), rounds=1)
    return root / "run"


def test_predict_writes_the_csv_and_reports_alarms_and_metrics(
    csv_run: Path, tmp_path: Path
) -> None:
    # Prepare
    rows = runner.invoke(app, ["predict", "--run", str(csv_run), "--export-test-rows",
                               str(tmp_path / "rows"), "--json"])
    assert rows.exit_code == 0, rows.output
    site_file = Path(json.loads(rows.stdout)[CSV_SITES[0]])
    summary = json.loads((csv_run / "summary.json").read_text())

    # Execute
    result = runner.invoke(app, ["predict", "--run", str(csv_run), "--data", str(site_file),
                                 "--out", str(tmp_path / "out.csv"), "--json"])

    # Assert
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    written = pd.read_csv(tmp_path / "out.csv")
    assert printed["rows"] == len(written) == summary["per_site"][CSV_SITES[0]]["num_examples"]
    assert printed["alarms"] == int(written["alarm"].sum())
    assert printed["metrics"]["f1"] == pytest.approx(summary["per_site"][CSV_SITES[0]]["f1"])
    assert {LABEL, "probability", "alarm"} <= set(written.columns)


def test_predict_prints_a_summary_table(csv_run: Path, tmp_path: Path) -> None:
    # Prepare
    data = csv_run.parent / "plants.csv"

    # Execute
    result = runner.invoke(app, ["predict", "--run", str(csv_run), "--data", str(data),
                                 "--out", str(tmp_path / "p.csv")])

    # Assert
    assert result.exit_code == 0, result.output
    for label in ("rows (windows)", "alarms", "alarm rate", "threshold", "f1", "pr_auc"):
        assert label in result.stdout
    assert (tmp_path / "p.csv").is_file()


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("missing run", 4, "does not exist"),
        ("unknown round", 2, "saved rounds: 0, 1"),
        ("wrong columns", 3, "Torque [Nm]"),
        ("missing data file", 3, "does not exist"),
        ("no data", 2, "--data FILE"),
    ],
)
def test_bad_inputs_give_one_clear_line_and_the_exit_code(
    csv_run: Path, tmp_path: Path, case: str, code: int, message: str
) -> None:
    # Prepare
    broken = tmp_path / "broken.csv"
    pd.read_csv(csv_run.parent / "plants.csv").drop(columns=["Torque [Nm]"]).to_csv(broken)
    args = {
        "missing run": ["--run", str(tmp_path / "nope"), "--data", str(broken)],
        "unknown round": ["--run", str(csv_run), "--round", "9", "--data", str(broken)],
        "wrong columns": ["--run", str(csv_run), "--data", str(broken)],
        "missing data file": ["--run", str(csv_run), "--data", str(tmp_path / "none.csv")],
        "no data": ["--run", str(csv_run)],
    }[case]

    # Execute
    result = runner.invoke(app, ["predict", *args, "--out", str(tmp_path / "out.csv")])

    # Assert
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_predict_after_a_site_normalised_run_needs_the_site(tmp_path: Path) -> None:
    # Prepare
    data = plant_csv_config(write_plant_csv(tmp_path / "plants.csv")).model_copy(
        update={"normalization": "site"})
    make_run(tmp_path / "run", data=data, rounds=1)
    command = ["predict", "--run", str(tmp_path / "run"), "--data", str(tmp_path / "plants.csv"),
               "--out", str(tmp_path / "p.csv"), "--json"]

    # Execute / Assert: refused, nothing written
    without_site = runner.invoke(app, command)
    assert without_site.exit_code == 2
    assert "'site'" in without_site.output and CSV_SITES[1] in without_site.output
    assert not (tmp_path / "p.csv").exists()
    # Execute / Assert: with the site named
    with_site = runner.invoke(app, [*command, "--site", CSV_SITES[1]])
    assert with_site.exit_code == 0, with_site.output
    assert json.loads(with_site.stdout)["rows"] > 0
