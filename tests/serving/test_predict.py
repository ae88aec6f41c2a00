"""Predict: a run's test rows, fed back as files, reproduce the run's reported test metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from networkfed.core.errors import (
    CheckpointError,
    ConfigError,
    DataValidationError,
    RunFolderError,
    UnknownRoundError,
)
from networkfed.data import DataConfig
from networkfed.federated.metrics import classification_metrics
from networkfed.serving.checkpoint import load_served_model, saved_rounds
from networkfed.serving.predict import ALARM, PROBABILITY, predict_file, write_predictions
from networkfed.serving.test_rows import write_test_rows
from tiny_runs import CSV_SITES, LABEL, make_run, plant_csv_config, write_plant_csv

COMPARED = ("f1", "pr_auc", "roc_auc", "precision", "recall", "accuracy", "num_examples")
ROUNDS = 2


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run on a user's CSV (three plants, machines in time order), in 10-step windows."""
    root = tmp_path_factory.mktemp("csv_run")
    data = plant_csv_config(write_plant_csv(root / "plants.csv"), sequence_length=10)
    make_run(root / "run", data=data, rounds=ROUNDS)
    return root / "run"


def same(got: float, expected: float | None) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        return math.isnan(got)
    return got == pytest.approx(expected, abs=1e-9)


def assert_reproduces(got: dict, expected: dict) -> None:
    for key in COMPARED:
        assert same(got[key], expected[key]), (key, got[key], expected[key])


def pooled_metrics(predictions: list, threshold: float) -> dict:
    labels = np.concatenate([p.table[LABEL].to_numpy() for p in predictions])
    probability = np.concatenate([p.table[PROBABILITY].to_numpy() for p in predictions])
    return classification_metrics(labels, probability, threshold)


def test_every_checkpoint_carries_the_preprocessing_and_threshold(csv_run: Path) -> None:
    # Execute
    snapshots = [
        json.loads((csv_run / f"checkpoints/global/round_{r:04d}.json").read_text())
        for r in saved_rounds(csv_run)
    ]

    # Assert
    assert saved_rounds(csv_run) == list(range(ROUNDS + 1))
    for snapshot in snapshots:
        spec, extra = snapshot["extra"]["preprocessing"], snapshot["extra"]
        assert len(spec["feature_names"]) == len(spec["mean"]) == len(spec["std"]) == 5
        assert spec["sequence_length"] == 10
        assert 0.0 <= extra["threshold"] <= 1.0
        assert extra["model_type"] == "cnn"


@pytest.mark.slow
def test_test_rows_fed_back_reproduce_the_runs_test_metrics(csv_run: Path, tmp_path: Path) -> None:
    # Prepare
    summary = json.loads((csv_run / "summary.json").read_text())
    files = write_test_rows(csv_run, tmp_path / "rows")
    served = load_served_model(csv_run)

    # Execute
    predictions = {site: predict_file(served, path) for site, path in files.items()}

    # Assert: each site's metrics, then all sites pooled (the run's overall metrics)
    assert sorted(files) == sorted(CSV_SITES)
    for site, prediction in predictions.items():
        assert_reproduces(prediction.metrics, summary["per_site"][site])
    assert_reproduces(pooled_metrics(list(predictions.values()), served.threshold),
                      summary["final"])
    assert served.threshold == pytest.approx(summary["final"]["threshold"])


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    {},
    {"features": ("torque_nm", "tool_wear_min", "mechanical_power_w", "product_quality"),
     "feature_bins": 4},
], ids=["ten-features", "subset-with-bins"])
def test_ai4i_test_rows_reproduce_the_runs_test_metrics(
    ai4i_csv: Path, tmp_path: Path, options: dict
) -> None:
    # Prepare
    run_dir = tmp_path / "run"
    make_run(run_dir, data=DataConfig(dataset="ai4i2020", data_path=ai4i_csv, **options),
             rounds=1)
    summary = json.loads((run_dir / "summary.json").read_text())
    files = write_test_rows(run_dir, tmp_path / "rows")
    served = load_served_model(run_dir)

    # Execute
    predictions = {site: predict_file(served, path) for site, path in files.items()}

    # Assert
    for site, prediction in predictions.items():
        assert_reproduces(prediction.metrics, summary["per_site"][site])
    assert_reproduces(pooled_metrics(list(predictions.values()), served.threshold),
                      summary["final"])


def test_unlabelled_file_gets_probabilities_and_alarms_but_no_metrics(
    csv_run: Path, tmp_path: Path
) -> None:
    # Prepare
    source = pd.read_csv(csv_run.parent / "plants.csv").drop(columns=[LABEL])
    source.to_csv(tmp_path / "new.csv", index=False)
    served = load_served_model(csv_run, round_num=1)

    # Execute
    prediction = predict_file(served, tmp_path / "new.csv")
    written = pd.read_csv(write_predictions(prediction, tmp_path / "out.csv"))

    # Assert
    assert prediction.metrics is None and prediction.round_num == 1
    assert list(written.columns) == [*source.columns, PROBABILITY, ALARM]
    np.testing.assert_array_equal(
        written[ALARM], (written[PROBABILITY] >= served.threshold).astype(int)
    )
    assert prediction.alarms == int(written[ALARM].sum())
    assert prediction.rows == len(written) < len(source)  # one row per window


def test_a_missing_feature_column_is_named(csv_run: Path, tmp_path: Path) -> None:
    # Prepare
    broken = pd.read_csv(csv_run.parent / "plants.csv").drop(columns=["Torque [Nm]"])
    broken.to_csv(tmp_path / "broken.csv", index=False)

    # Execute / Assert
    with pytest.raises(DataValidationError, match=r"Torque \[Nm\]") as caught:
        predict_file(load_served_model(csv_run), tmp_path / "broken.csv")
    assert caught.value.exit_code == 3


def test_an_unknown_round_lists_the_saved_ones(csv_run: Path) -> None:
    # Execute / Assert
    with pytest.raises(UnknownRoundError, match="saved rounds: 0, 1, 2"):
        load_served_model(csv_run, round_num=7)


def test_a_missing_run_folder_is_reported(tmp_path: Path) -> None:
    # Execute / Assert
    with pytest.raises(RunFolderError, match="does not exist"):
        load_served_model(tmp_path / "nothing")
    with pytest.raises(RunFolderError, match="checkpoints"):
        load_served_model(tmp_path)


def test_a_checkpoint_without_preprocessing_cannot_be_served(
    csv_run: Path, tmp_path: Path
) -> None:
    # Prepare: a copy of the run whose last snapshot lost its preprocessing metadata
    import shutil

    copy = Path(shutil.copytree(csv_run, tmp_path / "copy"))
    snapshot_path = copy / f"checkpoints/global/round_{ROUNDS:04d}.json"
    snapshot = json.loads(snapshot_path.read_text())
    del snapshot["extra"]["preprocessing"]
    snapshot_path.write_text(json.dumps(snapshot))

    # Execute / Assert
    with pytest.raises(CheckpointError, match="preprocessing"):
        load_served_model(copy)


def test_test_rows_need_a_run_on_a_file(tmp_path: Path) -> None:
    # Prepare
    make_run(tmp_path / "run", rounds=1)

    # Execute / Assert
    with pytest.raises(ConfigError, match="ai4i2020, csv"):
        write_test_rows(tmp_path / "run", tmp_path / "rows")


@pytest.mark.slow
def test_site_normalised_runs_predict_with_the_named_sites_statistics(tmp_path: Path) -> None:
    # Prepare: every site standardised with its own statistics
    data = plant_csv_config(write_plant_csv(tmp_path / "plants.csv")).model_copy(
        update={"normalization": "site"})
    make_run(tmp_path / "run", data=data, rounds=1)
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    files = write_test_rows(tmp_path / "run", tmp_path / "rows")
    served = load_served_model(tmp_path / "run")

    # Execute
    predictions = {site: predict_file(served, path, site_id=site) for site, path in files.items()}

    # Assert: each site's own statistics give back its test metrics; a file must name its site
    for site, prediction in predictions.items():
        assert_reproduces(prediction.metrics, summary["per_site"][site])
    with pytest.raises(ConfigError, match="'site'.*" + ", ".join(sorted(CSV_SITES))):
        predict_file(served, files[CSV_SITES[0]])
    with pytest.raises(ConfigError, match="'plant_x'"):
        predict_file(served, files[CSV_SITES[0]], site_id="plant_x")
