"""Remaining useful life (``task = "rul"``): target, scores, C-MAPSS test scoring, learning,
resume, predict and export parity, refusals."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from networkfed.api import run_federated
from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data import DataConfig, load_federated_data
from networkfed.data.rul import capped_rul, remaining_life_of_groups
from networkfed.data.sources.cmapss import _remaining_life
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import RunConfig
from networkfed.federated.regression import RegressionStep, nasa_score, regression_metrics
from networkfed.federated.results import RoundResult
from networkfed.serving.checkpoint import load_served_model
from networkfed.serving.export import export_model
from networkfed.serving.predict import predict_file
from tiny_runs import write_fleet_csv

# --- a small run-to-failure fleet -------------------------------------------------------------


def fleet_config(path: Path, **options: Any) -> DataConfig:
    settings: dict[str, Any] = {
        "dataset": "csv", "data_path": path, "task": "rul", "rul_cap": 80,
        "site_column": "plant", "group_column": "machine", "time_column": "cycle",
        "feature_columns": ("wear", "vibration", "noise"), "split": "machine",
        "sequence_length": 5,
    }
    settings.update(options)
    return DataConfig(**settings)


def fleet_run(data: DataConfig, **run: Any) -> RunConfig:
    settings: dict[str, Any] = {"data": data, "model": "lstm", "rounds": 3, "local_epochs": 2,
                                "seed": 3, "workers": 0, "min_fit_clients": 2}
    settings.update(run)
    return RunConfig(**settings)


@pytest.fixture(scope="module")
def fleet_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fleet_csv(tmp_path_factory.mktemp("fleet") / "fleet.csv")


@pytest.fixture(scope="module")
def fleet_run_dir(fleet_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "rul"
    run_federated(fleet_run(fleet_config(fleet_csv, rul_column="rul")), run_dir=run_dir)
    return run_dir


# --- target and scores against hand computations --------------------------------------------


def test_the_target_is_capped_piecewise_linear() -> None:
    assert capped_rul(np.array([0, 1, 124, 125, 126, 300]), 125).tolist() == [
        0, 1, 124, 125, 125, 125]


def test_cmapss_remaining_life_counts_to_the_last_cycle_plus_the_official_rul() -> None:
    frame = pd.DataFrame({"unit": [1, 1, 1, 2, 2], "cycle": [1, 2, 3, 1, 2]})

    train = _remaining_life(frame, None)
    test = _remaining_life(frame, np.array([10.0, 0.0]))

    assert train.tolist() == [2, 1, 0, 1, 0]
    assert test.tolist() == [12, 11, 10, 1, 0]


def test_run_to_failure_groups_count_down_to_their_last_time() -> None:
    machines = np.array(["b", "a", "b", "a", "b"], dtype=object)
    times = np.array([0.0, 5.0, 1.0, 7.0, 4.0])

    assert remaining_life_of_groups(machines, times).tolist() == [4, 2, 3, 0, 0]


def test_nasa_score_is_asymmetric_as_hand_computed() -> None:
    predicted = np.array([100.0, 50.0, 20.0, 7.0])
    true = np.array([113.0, 40.0, 20.0, 12.0])  # d = -13 (early), +10 (late), 0, -5

    expected = (math.e - 1) + (math.e - 1) + 0 + (math.exp(5 / 13) - 1)
    assert nasa_score(predicted, true) == pytest.approx(expected, rel=1e-12)
    # late by 10 costs more than early by 10
    assert nasa_score(np.array([30.0]), np.array([20.0])) > nasa_score(
        np.array([10.0]), np.array([20.0]))


def test_regression_metrics_as_hand_computed() -> None:
    metrics = regression_metrics(np.array([10.0, 20.0, 30.0, 40.0]),
                                 np.array([12.0, 20.0, 15.0, 51.0]))  # errors 2, 0, -15, 11

    assert metrics["loss"] == pytest.approx((4 + 0 + 225 + 121) / 4)
    assert metrics["rmse"] == pytest.approx(math.sqrt(350 / 4))
    assert metrics["mae"] == pytest.approx(28 / 4)
    assert metrics["within_10"] == pytest.approx(0.5)
    assert metrics["num_examples"] == 4
    assert math.isnan(regression_metrics(np.empty(0), np.empty(0))["rmse"])


def test_the_regression_step_gives_autograd_s_mse_gradients_on_the_scaled_target() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(8, 3), torch.rand(8) * 125
    loss = RegressionStep(model, 125.0)(x, y)
    expected = torch.nn.functional.mse_loss(model(x)[:, 0], y / 125)

    assert float(loss) == pytest.approx(float(expected.detach()))
    assert model.weight.grad is not None
    reference = torch.autograd.grad(expected, model.weight)[0]
    torch.testing.assert_close(model.weight.grad, reference)


# --- C-MAPSS: the literature's test protocol ---------------------------------------------------


def test_cmapss_test_windows_are_each_engines_last_window_against_the_rul_file(
    cmapss_dir: Path,
) -> None:
    # 40-cycle windows: FD001's shortest test engines (31 cycles) are padded, not left out
    config = DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001",),
                        task="rul", sequence_length=40)
    data = load_federated_data(config, seed=0)
    test = data.sites["FD001"].test
    official = np.loadtxt(cmapss_dir / "RUL_FD001.txt")
    frame = pd.read_csv(cmapss_dir / "test_FD001.txt", sep=r"\s+", header=None)
    cycles = frame.groupby(0)[1].max()

    assert (cycles < 40).any()
    assert data.num_classes == 1 and test.y.dtype == torch.float32
    assert len(test) == cycles.size == len(set(test.machine_ids))
    units = [int(m.rsplit("-", 1)[1]) for m in test.machine_ids]
    expected = np.minimum(official[np.array(units) - 1], 125)
    np.testing.assert_array_equal(test.y.numpy(), expected.astype(np.float32))
    assert float(data.sites["FD001"].train.y.max()) == 125.0


# --- learning, resume, predict and export ----------------------------------------------------


def test_a_run_to_failure_csv_learns_far_better_than_predicting_the_mean(
    fleet_csv: Path,
) -> None:
    data = fleet_config(fleet_csv, run_to_failure=True)
    result = run_federated(fleet_run(data))
    loaded = load_federated_data(data, seed=3)
    true = np.concatenate([site.test.y.numpy() for site in loaded.sites.values()])
    train = np.concatenate([site.train.y.numpy() for site in loaded.sites.values()])
    mean_rmse = float(np.sqrt(np.mean((true - train.mean()) ** 2)))

    rmse = result.last.evaluation.overall["rmse"]
    assert rmse < 0.5 * mean_rmse, (rmse, mean_rmse)
    assert result.best_round == min(
        result.history, key=lambda row: row["val"]["rmse"])["round"]


def test_metrics_summary_predictions_and_report_hold_the_rul_scores(fleet_run_dir: Path) -> None:
    rows = [json.loads(line) for line in (fleet_run_dir / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((fleet_run_dir / "summary.json").read_text())
    predictions = pd.read_csv(fleet_run_dir / "predictions.csv")
    report = (fleet_run_dir / "report.html").read_text()

    overall = [r for r in rows if r["site"] == "overall" and r["split"] == "test"]
    assert [r["round"] for r in overall] == [0, 1, 2, 3]
    assert {"rmse", "mae", "nasa_score", "within_10"} <= set(overall[-1])
    assert "f1" not in overall[-1]
    assert set(summary["per_site"]) == {"plant_a", "plant_b"}
    assert summary["final"]["rmse"] == pytest.approx(overall[-1]["rmse"])
    true, predicted = predictions["rul_true"].to_numpy(), predictions["rul_predicted"].to_numpy()
    assert math.sqrt(np.mean((predicted - true) ** 2)) == pytest.approx(
        summary["final"]["rmse"], abs=1e-2)
    for name in ("rul_scatter", "rul_errors", "rul_rounds"):
        assert (fleet_run_dir / "plots" / f"{name}.png").stat().st_size > 5_000
    assert "Remaining useful life" in report and "NASA score" in report


class StopAt(Callback):
    """Ctrl-C after a round's metrics, before its checkpoint (passed as ``progress``)."""

    def __init__(self, round_num: int) -> None:
        self.round_num = round_num

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        if result.round_num == self.round_num:
            raise KeyboardInterrupt


def test_a_resumed_rul_run_ends_with_the_uninterrupted_runs_metrics(
    fleet_csv: Path, fleet_run_dir: Path, tmp_path: Path
) -> None:
    config = fleet_run(fleet_config(fleet_csv, rul_column="rul"))
    run_dir = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_federated(config, run_dir=run_dir, progress=StopAt(2))
    run_federated(config, run_dir=run_dir, resume=True)

    def lines(folder: Path) -> list[str]:
        return (folder / "metrics.jsonl").read_text().splitlines()

    assert lines(run_dir) == lines(fleet_run_dir)


def test_predict_reproduces_the_runs_test_scores_and_raises_alarms_by_horizon(
    fleet_csv: Path, fleet_run_dir: Path, tmp_path: Path
) -> None:
    data = load_federated_data(fleet_config(fleet_csv, rul_column="rul"), seed=3)
    test_machines = {m for site in data.sites.values() for m in site.test.machine_ids}
    frame = pd.read_csv(fleet_csv)
    new_file = tmp_path / "test_machines.csv"
    frame[frame["machine"].isin(test_machines)].to_csv(new_file, index=False)
    summary = json.loads((fleet_run_dir / "summary.json").read_text())

    served = load_served_model(fleet_run_dir)
    prediction = predict_file(served, new_file, horizon=20)

    assert prediction.metrics is not None
    assert prediction.metrics["rmse"] == pytest.approx(summary["final"]["rmse"], rel=1e-5)
    table = prediction.table
    assert (table["alarm"] == (table["rul_predicted"] <= 20)).all()
    assert 0 < prediction.alarms < prediction.rows


@pytest.mark.parametrize(
    "export_format", [pytest.param("onnx", marks=pytest.mark.slow), "torchscript"])
def test_export_outputs_remaining_life_within_parity(
    fleet_run_dir: Path, tmp_path: Path, export_format: str
) -> None:
    served = load_served_model(fleet_run_dir)
    result = export_model(served, tmp_path / f"model.{export_format}", export_format)
    side = json.loads(result.preprocessing_path.read_text())

    assert result.max_abs_difference <= 1e-5
    assert "remaining useful life" in side["output"]
    if export_format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(result.path),
                                               providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == ["remaining_life"]


# --- refusals -----------------------------------------------------------------------------------


def test_rul_without_a_source_of_remaining_life_is_refused(fleet_csv: Path) -> None:
    with pytest.raises(ConfigError, match="source of remaining life"):
        load_federated_data(DataConfig(rows_per_site=200, task="rul"), seed=0)
    with pytest.raises(ConfigError, match="rul-column"):
        load_federated_data(fleet_config(fleet_csv), seed=0)


def test_a_negative_or_non_numeric_rul_column_is_refused(fleet_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(fleet_csv)
    negative, text = frame.copy(), frame.astype({"rul": object})
    negative.loc[4, "rul"] = -3
    text.loc[7, "rul"] = "soon"
    negative.to_csv(tmp_path / "negative.csv", index=False)
    text.to_csv(tmp_path / "text.csv", index=False)

    with pytest.raises(DataValidationError, match=r"column 'rul'.*>= 0.*rows: 6"):
        load_federated_data(fleet_config(tmp_path / "negative.csv", rul_column="rul"), seed=0)
    with pytest.raises(DataValidationError, match="column 'rul'"):
        load_federated_data(fleet_config(tmp_path / "text.csv", rul_column="rul"), seed=0)


@pytest.mark.parametrize(
    ("data", "run", "message"),
    [
        ({"task": "rul", "feature_bins": 4}, {}, "feature_bins is a classification option"),
        ({"task": "rul", "label_column": "x"}, {}, "label_column is a classification option"),
        ({"rul_cap": 100}, {}, "rul_cap needs task = 'rul'"),
        ({"task": "rul"}, {"class_weighting": "none"}, "class_weighting is a classification"),
        ({"task": "rul"}, {"attack": "label-flip", "attackers": 1}, "flips class labels"),
        ({}, {"rul_loss": "huber"}, "rul_loss needs task = 'rul'"),
        ({"task": "rul"}, {"engine": "flower"}, "engine 'flower' does not carry"),
        ({"task": "rul"}, {"dp": "sample", "dp_epsilon": 5.0}, "dp 'sample' \\(DP-SGD\\)"),
    ],
)
def test_options_of_the_other_task_are_refused(
    data: dict[str, Any], run: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RunConfig(data=DataConfig(**data), **run)
