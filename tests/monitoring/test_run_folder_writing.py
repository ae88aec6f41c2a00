"""The run folder a federated run writes, per the run folder contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine_helpers import tiny_config, tiny_data
from networkfed.api import run_federated
from networkfed.core.errors import ConfigError
from networkfed.models import ModelManager
from networkfed.monitoring.run_folder import METRIC_KEYS, load_run
from networkfed.monitoring.run_writer import load_run_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "run"
    run_federated(tiny_config(baselines=True), tiny_data(), run_dir=folder)
    return folder


def test_every_file_of_the_contract_is_written(run_dir: Path) -> None:
    for name in ("config.toml", "manifest.json", "metrics.jsonl", "predictions.csv",
                 "summary.json", "report.html", "checkpoints/global/model.json"):
        assert (run_dir / name).is_file(), name


def test_config_toml_reads_back_as_the_run_config(run_dir: Path) -> None:
    # split "auto" is written as what it chose for this data (synthetic telemetry: time), and
    # the window as the data's (the run was handed data loaded with DataConfig's 10 steps)
    config = tiny_config(baselines=True)
    resolved = config.data.model_copy(
        update={"split": "time", "sequence_length": tiny_data().sequence_length})
    assert load_run_config(run_dir) == config.model_copy(update={"data": resolved})


def test_manifest_says_complete_with_versions_and_fingerprint(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["rounds_completed"] == 2
    assert manifest["data_fingerprint"] == tiny_data().fingerprint
    assert manifest["model_id"] == "global"
    assert {"networkfed", "torch", "python", "platform", "seed", "engine"} <= set(manifest)


def test_metrics_have_a_row_per_site_and_overall_every_round(run_dir: Path) -> None:
    # Execute
    frame = load_run(run_dir).metrics

    # Assert
    test_rows = frame[(frame["mode"] == "federated") & (frame["split"] == "test")]
    sites = {*tiny_data().site_ids, "overall"}
    for round_num in (0, 1, 2):
        assert set(test_rows[test_rows["round"] == round_num]["site"]) == sites
    assert set(frame["mode"]) == {"federated", "centralized", "local"}
    assert not frame.duplicated(["round", "mode", "site", "split"]).any()
    assert set(METRIC_KEYS) <= set(frame.columns)


def test_checkpoints_hold_every_round_with_threshold_and_preprocessing(run_dir: Path) -> None:
    # Prepare
    manager = ModelManager(run_dir / "checkpoints")
    summary = json.loads((run_dir / "summary.json").read_text())

    # Execute
    _, metadata = manager.get_snapshot("global", 2)

    # Assert
    assert manager.list_rounds("global") == [0, 1, 2]
    assert metadata["extra"]["threshold"] == pytest.approx(summary["final"]["threshold"])
    assert metadata["extra"]["preprocessing"] == tiny_data().preprocessing.to_dict()
    assert metadata["extra"]["model_type"] == "cnn"
    assert metadata["metrics"]["pr_auc"] == pytest.approx(summary["final"]["pr_auc"])


def test_predictions_cover_every_test_window_of_every_mode(run_dir: Path) -> None:
    # Execute
    frame = pd.read_csv(run_dir / "predictions.csv")

    # Assert
    windows = sum(len(site.test) for site in tiny_data().sites.values())
    assert list(frame.columns) == ["mode", "site", "y_true", "probability", "alarm"]
    assert frame.groupby("mode").size().to_dict() == {
        "centralized": windows, "federated": windows, "local": windows}
    federated = frame[frame["mode"] == "federated"]
    summary = json.loads((run_dir / "summary.json").read_text())
    threshold = summary["final"]["threshold"]
    assert ((federated["probability"] >= threshold - 1e-6) == federated["alarm"].astype(bool)).all()


def test_summary_names_best_round_baselines_and_monitor(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["best_round"] in (0, 1, 2)
    assert set(summary["per_site"]) == set(tiny_data().site_ids)
    assert set(summary["baselines"]["local"]) == set(tiny_data().site_ids)
    assert summary["monitor"]["status"] in ("healthy", "issues_detected")


def test_a_new_run_never_overwrites_another_runs_folder(run_dir: Path) -> None:
    with pytest.raises(ConfigError, match="--resume"):
        run_federated(tiny_config(), tiny_data(), run_dir=run_dir)


def test_a_run_without_folder_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_federated(tiny_config(rounds=1), tiny_data())
    assert result.run_dir is None
    assert list(tmp_path.iterdir()) == []
