"""``--model xgboost --task rul``: ``reg:squarederror`` on the capped remaining life, scored,
checkpointed, resumed, baselined, reported, predicted, exported and tuned like the networks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine_helpers import StopAfter
from networkfed.api import run_federated
from networkfed.cli.result_lines import result_lines
from networkfed.data import DataConfig, load_federated_data
from networkfed.federated.config import RunConfig
from networkfed.serving.checkpoint import load_served_model
from networkfed.serving.export import export_model
from networkfed.serving.predict import predict_file
from networkfed.trees.checkpoint import read_round
from networkfed.trees.engine import site_rows
from networkfed.trees.features import tree_features
from networkfed.trees.sites import predict_rows
from tiny_runs import write_fleet_csv

CAP = 80


def fleet_data(path: Path) -> DataConfig:
    return DataConfig(
        dataset="csv", data_path=path, task="rul", rul_cap=CAP, rul_column="rul",
        site_column="plant", group_column="machine", time_column="cycle",
        feature_columns=("wear", "vibration", "noise"), split="machine", sequence_length=5)


def fleet_run(data: DataConfig, **changes: Any) -> RunConfig:
    settings: dict[str, Any] = {"data": data, "model": "xgboost", "rounds": 4,
                                "local_epochs": 3, "seed": 3, "min_fit_clients": 2,
                                "baselines": True}
    settings.update(changes)
    return RunConfig(**settings)


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def fleet_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fleet_csv(tmp_path_factory.mktemp("fleet") / "fleet.csv")


@pytest.fixture(scope="module")
def rul_run(fleet_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "xgb-rul"
    run_federated(fleet_run(fleet_data(fleet_csv)), run_dir=run_dir)
    return run_dir


@pytest.mark.parametrize("strategy", ["xgb-bagging", "xgb-cyclic"])
def test_a_run_to_failure_csv_learns_far_better_than_predicting_the_mean(
    fleet_csv: Path, strategy: str
) -> None:
    # Prepare: what predicting the training windows' mean scores on the test windows
    data = fleet_data(fleet_csv)
    loaded = load_federated_data(data, seed=3)
    true = np.concatenate([site.test.y.numpy() for site in loaded.sites.values()])
    train = np.concatenate([site.train.y.numpy() for site in loaded.sites.values()])
    mean_rmse = float(np.sqrt(np.mean((true - train.mean()) ** 2)))

    # Execute
    result = run_federated(fleet_run(data, strategy=strategy, baselines=False), loaded)

    # Assert: a regressor in cycles, best round by validation RMSE, the mean as reference
    rmse = result.last.evaluation.overall["rmse"]
    assert rmse < 0.5 * mean_rmse, (rmse, mean_rmse)
    assert result.best_round == min(result.history, key=lambda r: r["val"]["rmse"])["round"]
    reference = result.references["overall"]
    assert reference["train_mean"] == pytest.approx(float(train.mean()), rel=1e-6)
    assert reference["mean_rmse"] == pytest.approx(mean_rmse, rel=1e-6)
    assert reference["cap"] == CAP
    assert [f.code for f in result.findings] == []


def test_the_run_folder_holds_rul_scores_baselines_and_the_rul_report(rul_run: Path) -> None:
    rows = _rows(rul_run)
    summary = json.loads((rul_run / "summary.json").read_text())
    report = (rul_run / "report.html").read_text()
    config = (rul_run / "config.toml").read_text()

    tested = [r for r in rows if r["split"] == "test" and r["mode"] == "federated"]
    assert {r["site"] for r in tested} == {"plant_a", "plant_b", "overall"}
    assert {"rmse", "nasa_score", "mae", "within_10"} <= set(tested[-1])
    assert "f1" not in tested[-1]
    trained = [r for r in rows if r["split"] == "train"]
    assert trained[-1]["loss"] < trained[0]["loss"]  # mean squared error in cycles squared
    mean_rmse = summary["references"]["overall"]["mean_rmse"]
    baselines = summary["baselines"]
    assert baselines["centralized"]["rmse"] < 0.5 * mean_rmse
    assert set(baselines["local"]) == {"plant_a", "plant_b"}
    assert all(m["rmse"] < 0.5 * mean_rmse for m in baselines["local"].values())
    assert read_round(rul_run)[2]["threshold"] is None  # no alarm threshold: a regressor
    for name in ("rul_scatter", "rul_errors", "rul_rounds"):
        assert (rul_run / "plots" / f"{name}.png").is_file()
    assert "NASA score" in report and "RMSE of the mean" in report
    lines = "\n".join(result_lines(summary))
    assert f"predicting the training mean {summary['references']['overall']['train_mean']:.3f}" \
        in lines
    assert 'class_weighting = "balanced"' in config  # what task = 'rul' accepts on resume


def test_a_resumed_rul_run_ends_with_the_uninterrupted_runs_metrics(
    fleet_csv: Path, rul_run: Path, tmp_path: Path
) -> None:
    config = fleet_run(fleet_data(fleet_csv))
    with pytest.raises(KeyboardInterrupt):
        run_federated(config, run_dir=tmp_path / "cut", callbacks=[StopAfter(2)])

    run_federated(config, run_dir=tmp_path / "cut", resume=True)

    assert _rows(tmp_path / "cut") == _rows(rul_run)
    assert read_round(tmp_path / "cut")[1] == read_round(rul_run)[1]


def test_predict_reproduces_the_runs_test_scores_and_alarms_by_horizon(
    fleet_csv: Path, rul_run: Path, tmp_path: Path
) -> None:
    # Prepare: the test machines' rows, as a new file with their remaining-life column
    data = load_federated_data(fleet_data(fleet_csv), seed=3)
    machines = {m for site in data.sites.values() for m in site.test.machine_ids}
    frame = pd.read_csv(fleet_csv)
    new_file = tmp_path / "test_machines.csv"
    frame[frame["machine"].isin(machines)].to_csv(new_file, index=False)
    summary = json.loads((rul_run / "summary.json").read_text())

    # Execute
    prediction = predict_file(load_served_model(rul_run), new_file, horizon=20)

    # Assert
    assert prediction.metrics is not None
    assert prediction.metrics["rmse"] == pytest.approx(summary["final"]["rmse"], rel=1e-6)
    assert prediction.metrics["nasa_score"] == pytest.approx(
        summary["final"]["nasa_score"], rel=1e-6)
    table = prediction.table
    assert (table["alarm"] == (table["rul_predicted"] <= 20)).all()
    assert 0 < prediction.alarms < prediction.rows


@pytest.mark.parametrize("export_format", ["onnx", "json"])
def test_exports_give_the_boosters_remaining_life(
    fleet_csv: Path, rul_run: Path, tmp_path: Path, export_format: str
) -> None:
    served = load_served_model(rul_run)
    windows = load_federated_data(fleet_data(fleet_csv), seed=3).sites["plant_a"].test.x

    result = export_model(served, tmp_path / f"model.{export_format}", export_format)

    assert result.max_abs_difference <= 1e-5
    assert "remaining useful life" in json.loads(result.preprocessing_path.read_text())["output"]
    expected = served.predict_proba(windows)
    if export_format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(result.path),
                                               providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == ["remaining_life"]
        (got,) = session.run(["remaining_life"], {"windows": windows.numpy()})
    else:
        import xgboost

        booster = xgboost.Booster(model_file=str(result.path))
        got = booster.predict(xgboost.DMatrix(tree_features(windows)))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * CAP)
    assert expected.max() > 0.5 * CAP  # cycles, not a probability


def test_site_rows_keep_remaining_life_as_the_predictions_targets(fleet_csv: Path) -> None:
    data = load_federated_data(fleet_data(fleet_csv), seed=3)
    rows = site_rows(data)["plant_a"]
    booster_json = read_round_free_booster(rows)

    found = predict_rows(booster_json, rows, regression=True)

    np.testing.assert_array_equal(found["test"].y_true, data.sites["plant_a"].test.y.numpy())
    assert found["test"].y_true.dtype == np.float64


def read_round_free_booster(rows: dict[str, tuple[np.ndarray, np.ndarray]]) -> Any:
    """A booster with no tree (every prediction its base score), loaded."""
    from networkfed.trees.booster import initial_booster, load_booster
    from networkfed.trees.params import XGBOOST_DEFAULTS, booster_params

    params = booster_params(XGBOOST_DEFAULTS, seed=0, pos_weight=1.0, rul_cap=CAP)
    return load_booster(initial_booster(rows["train"][0].shape[1], params))


@pytest.mark.slow
def test_tune_minimises_the_validation_rmse_and_says_so(fleet_csv: Path, tmp_path: Path) -> None:
    # Prepare
    from typer.testing import CliRunner

    from networkfed.cli.main import app

    study = tmp_path / "study"
    args = ["tune", "--model", "xgboost", "--task", "rul", "--dataset", "csv", "--data-path",
            str(fleet_csv), "--rul-column", "rul", "--rul-cap", str(CAP), "--site-column",
            "plant", "--group-column", "machine", "--time-column", "cycle",
            "--feature-columns", "wear,vibration,noise", "--split", "machine",
            "--sequence-length", "5", "--min-fit-clients", "2", "--rounds", "2", "--trials", "3",
            "--study-dir", str(study)]

    # Execute
    ran = CliRunner().invoke(app, args, env={"COLUMNS": "200"})

    # Assert: trials.csv holds the RMSE itself (positive), the best is the lowest
    assert ran.exit_code == 0, ran.output
    assert "val RMSE" in ran.output and "F1" not in ran.output
    trials = pd.read_csv(study / "trials.csv")
    best = json.loads((study / "best_hyperparameters.json").read_text())
    complete = trials[trials["state"] == "COMPLETE"]
    assert (complete["value"] > 0).all()
    assert best["best_value"] == pytest.approx(complete["value"].min())
    assert "validation RMSE" in best["objective"]
