"""``--task rul`` on Flower: the model spec carries the target scale and loss, Flower's
simulation engine scores RUL exactly as the in-process engine does, a deployed site keeps its
remaining-life values (the server learns window counts only), and ``flower up --task rul`` on
two C-MAPSS plants' own files trains and scores the official test engines."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch
from flower_fakes import FakeGrid
from plant_files import cmapss_plant_folders
from typer.testing import CliRunner

from networkfed.api import run_federated
from networkfed.cli.main import app
from networkfed.data import DataConfig, load_federated_data
from networkfed.federated.config import RunConfig
from networkfed.federated.local_training import ModelSpec
from networkfed.flower.engine import serving
from networkfed.flower.federation_data import federation_data, source_state
from networkfed.flower.grid_runner import GridRunner
from networkfed.flower.messages import SiteSetup
from networkfed.flower.server_app import discover_federation
from networkfed.flower.site_data import (
    deployed_site_data,
    local_data_config,
    site_report,
    site_table,
)
from networkfed.models import ModelManager

SMALL_CNN = {"batch_size": 256, "conv_filters": [8, 16], "fc_hidden": [16]}
RUL_KEYS = ("rmse", "mae", "nasa_score", "within_10")


def _rows(run_dir: Path) -> list[dict]:
    """metrics.jsonl rows with NaN as None (NaN != NaN would hide equal rows)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
            for row in rows]


def test_the_site_setup_carries_a_rul_runs_target_scale_and_loss() -> None:
    spec = ModelSpec("cnn", 14, 1, {"fc_hidden": [16]}, target_scale=125.0, loss="huber")

    back = SiteSetup.from_record(SiteSetup(DataConfig(), 1, spec=spec).record()).spec

    assert back == spec


def test_a_deployed_rul_site_reports_window_counts_and_keeps_its_targets(
    cmapss_dir: Path, tmp_path: Path
) -> None:
    # Prepare
    folder = cmapss_plant_folders(cmapss_dir, tmp_path, ("FD001",))["FD001"]
    config = DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001",), task="rul",
                        sequence_length=20)
    table = site_table(local_data_config(config, "FD001", {"data-path": str(folder)}),
                       "FD001", 0)
    # Execute: the deployment's data flow (reports, combined state, reports again)
    state = source_state({"FD001": site_report(table)}, config)
    report = site_report(table, state)
    view = federation_data({"FD001": report}, config, state)
    site = deployed_site_data(table, view.preprocessing)
    # Assert: no remaining-life value in the report, a regression view on the server, the
    # site's own capped float targets (the in-process ones), each test engine's last window
    expected = load_federated_data(config, 0).sites["FD001"]
    assert report["label_counts"] == {}
    assert report["windows"] == {name: len(getattr(expected, name))
                                 for name in ("train", "val", "test")}
    assert view.num_classes == 1 and float(view.sites["FD001"].train.y.abs().sum()) == 0.0
    assert view.preprocessing.source_options["rul_cap"] == 125
    for split in ("train", "val", "test"):
        assert getattr(site, split).y.dtype == torch.float32
        assert torch.equal(getattr(site, split).y, getattr(expected, split).y)
    np.testing.assert_array_equal(site.test.y.numpy(),
                                  np.loadtxt(cmapss_dir / "RUL_FD001.txt").clip(max=125))


@pytest.mark.flower
@pytest.mark.slow
def test_flower_simulation_scores_rul_as_the_in_process_engine(
    cmapss_dir: Path, tmp_path: Path
) -> None:
    # Prepare: FD001's engines spread over two sites
    config = RunConfig(
        data=DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001",), task="rul",
                        partition="iid", num_sites=2, sequence_length=20),
        model="cnn", rounds=2, local_epochs=1, seed=4, min_fit_clients=2, workers=0,
        hparams=SMALL_CNN,
    )
    # Execute
    inprocess = run_federated(config, run_dir=tmp_path / "inprocess")
    flower = run_federated(config.model_copy(update={"engine": "flower"}),
                           run_dir=tmp_path / "flower")
    # Assert: final parameters within 1e-5, the same RUL scores every round and site
    ours, _ = ModelManager(tmp_path / "flower" / "checkpoints").get_snapshot("global", 2)
    theirs, _ = ModelManager(tmp_path / "inprocess" / "checkpoints").get_snapshot("global", 2)
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=1e-5)
    for key in RUL_KEYS:
        assert flower.last.overall[key] == inprocess.last.overall[key], key
    assert _rows(tmp_path / "flower") == _rows(tmp_path / "inprocess")
    assert flower.best_round == inprocess.best_round


@pytest.mark.flower
@pytest.mark.slow
def test_flower_up_task_rul_trains_on_plants_files_and_scores_the_official_engines(
    cmapss_dir: Path, tmp_path: Path
) -> None:
    # Prepare: two plants, each with only its own subset's files
    folders = cmapss_plant_folders(cmapss_dir, tmp_path, ("FD001", "FD003"))
    run_dir = tmp_path / "run"
    # Execute
    result = CliRunner().invoke(app, [
        "flower", "up", "--task", "rul", "--dataset", "cmapss", "--model", "cnn",
        "--config", str(_small_cnn_config(tmp_path)),
        *(f"--site={name}={folder}" for name, folder in folders.items()),
        "--rounds", "2", "--local-epochs", "1", "--min-fit-clients", "2", "--seed", "3",
        "--dir", str(tmp_path / "dep"), "--run-dir", str(run_dir), "--quiet",
    ])
    # Assert: a complete run scored on every official test engine (100 per subset), the best
    # round the one with the lowest validation RMSE, the RUL report
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["rounds_completed"] == 2
    assert summary["final"]["num_examples"] == 200
    assert all(np.isfinite(summary["final"][key]) for key in RUL_KEYS)
    assert summary["final"]["rmse"] < 125.0  # a trained model, not the cap's worst case
    rows = _rows(run_dir)
    val = {r["round"]: r["rmse"] for r in rows
           if r["site"] == "overall" and r["split"] == "val" and r["mode"] == "federated"}
    assert summary["best_round"] == min(val, key=val.get)
    tested = {r["site"] for r in rows if r["split"] == "test" and r["round"] == 2}
    assert tested >= {"FD001", "FD003"}
    assert (run_dir / "report.html").is_file()


def _small_cnn_config(folder: Path) -> Path:
    """A config file with a small CNN (the command line has no architecture options)."""
    path = folder / "small.toml"
    path.write_text(tomli_w.dumps({"data": {"sequence_length": 20}, "hparams": SMALL_CNN}),
                    encoding="utf-8")
    return path


def test_xgboost_rul_runs_on_a_deployments_data_flow(cmapss_dir: Path, tmp_path: Path) -> None:
    """The ServerApp's steps over the real ClientApp (in-memory grid): two plants' own files,
    the server holding only their reports, reg:squarederror boosted at the plants."""
    # Prepare
    folders = cmapss_plant_folders(cmapss_dir, tmp_path, ("FD001", "FD003"))
    grid = FakeGrid({7: {"site-id": "FD001", "data-path": str(folders["FD001"])},
                     9: {"site-id": "FD003", "data-path": str(folders["FD003"])}})
    config = RunConfig(
        data=DataConfig(dataset="cmapss", data_path=tmp_path, subsets=("FD001", "FD003"),
                        task="rul", sequence_length=20),
        model="xgboost", rounds=2, local_epochs=2, seed=3, engine="flower", min_fit_clients=2)
    runner = GridRunner(grid, SiteSetup(config.data, config.seed), min_fit_clients=2,
                        timeout=60.0)
    # Execute
    data = discover_federation(runner, config.data, min_nodes=2, wait=1.0)
    with serving(runner):
        result = run_federated(config, data, run_dir=tmp_path / "run")
    # Assert: summaries on the server, every official test engine scored in cycles
    assert data.num_classes == 1 and all(s.train.x.numel() == 0 for s in data.sites.values())
    assert result.rounds_completed == 2 and result.last.overall["num_examples"] == 200
    assert all(np.isfinite(result.last.overall[key]) for key in RUL_KEYS)
    assert result.last.overall["rmse"] < 125.0  # trees that learnt, not the cap's worst case
