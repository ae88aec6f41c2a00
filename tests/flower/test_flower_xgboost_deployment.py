"""``--model xgboost`` on a real Flower deployment (SuperLink and three SuperNodes as processes
on 127.0.0.1, TLS and authentication on): the server holds only the sites' reports (label
counts for ``scale_pos_weight``, the federation's standardisation); a cyclic run stopped by a
lost site resumes from its saved round and ends with the in-process engine's booster, byte
for byte; ``flower up`` on AI4I plants' own files (bagging, the default) writes a run whose
model ``predict`` serves, reproducing each site's test metrics on its test rows. Bagging's
byte-for-byte parity with the in-process engine is checked on Flower's simulation engine
(test_flower_xgboost_parity.py), which runs the same site and server code without the
processes' minute of start-up."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from local_network import OPTIONS, SITES, local_network, run_on
from typer.testing import CliRunner

from networkfed.api import run_federated
from networkfed.cli.main import app
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.federated.metrics import classification_metrics
from networkfed.flower.federation import RunOutcome
from networkfed.flower.site_data import local_data_config, site_table
from networkfed.monitoring.run_folder import read_config
from networkfed.serving.checkpoint import load_served_model
from networkfed.trees.checkpoint import read_round, tree_rounds

pytestmark = [pytest.mark.flower, pytest.mark.slow]

# a deployment knows its sites by id, in sorted order (the in-process run lists them so too)
DATA = DataConfig(rows_per_site=300, sites=tuple(sorted(SITES)))


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    yield from local_network(tmp_path_factory.mktemp("plants"))


def _config(run_dir: Path, strategy: str, **changes) -> RunConfig:
    settings = {"data": DATA, "model": "xgboost", "strategy": strategy, "rounds": 2,
                "local_epochs": 2, "seed": 9, "engine": "flower", "run_dir": run_dir}
    return RunConfig(**{**settings, **changes})


def _in_process(config: RunConfig, run_dir: Path) -> None:
    run_federated(config.model_copy(update={"engine": "inprocess", "run_dir": None}),
                  run_dir=run_dir)


def test_cyclic_deployment_stopped_by_a_lost_site_resumes_to_the_in_process_booster(
    network, tmp_path
):
    # Prepare: four rounds, one site a round; a plant shuts down once round 0 is saved
    run_dir, site = tmp_path / "deployed", SITES[1]
    config = _config(run_dir, "xgb-cyclic", rounds=4)
    outcome: list[RunOutcome] = []
    thread = threading.Thread(target=lambda: outcome.append(run_on(network, config)),
                              daemon=True)
    # Execute
    thread.start()
    saved = run_dir / "checkpoints" / "xgboost" / "round_0000.json"
    deadline = time.monotonic() + OPTIONS.run_timeout
    while not saved.exists() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    network.stop_supernode(site)
    thread.join(OPTIONS.run_timeout)
    # Assert: a clear stop with the saved rounds kept
    assert outcome[0].status == "finished:failed", outcome[0].log_path.read_text()[-3000:]
    stop = re.search(r"no (boosted trees|predictions) from site\(s\) (.*?)(;|\n|$)",
                     outcome[0].log_path.read_text())
    assert stop is not None and site in stop.group(2)
    stopped_at = tree_rounds(run_dir)[-1]
    assert stopped_at < 4
    # Execute: the plant is back; the run resumes from its last saved round
    network.start_supernode(site, network.certs.node_keys[site][0], {"site-id": site})
    resumed = run_on(network, config, resume=True)
    _in_process(config, tmp_path / "inprocess")
    # Assert: the rounds after the stop continued (not restarted): the in-process trees
    assert resumed.ok, resumed.log_path.read_text()[-3000:]
    assert tree_rounds(run_dir) == [0, 1, 2, 3, 4]
    assert read_round(run_dir)[1] == read_round(tmp_path / "inprocess")[1]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["rounds_completed"] == 4


def test_up_refuses_baselines_before_starting_anything(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('model = "xgboost"\nbaselines = true\n', encoding="utf-8")

    result = CliRunner().invoke(app, ["flower", "up", "--config", str(config), "--dir",
                                      str(tmp_path / "dep")])

    assert result.exit_code == 2, result.output
    assert "baselines" in result.output
    assert not (tmp_path / "dep").exists()


def test_flower_up_on_ai4i_plant_files_writes_a_run_predict_reproduces(ai4i_csv, tmp_path):
    # Prepare: each plant holds only its own product type's rows
    frame = pd.read_csv(ai4i_csv)
    files = {}
    for kind in ("L", "M", "H"):
        files[f"type_{kind}"] = tmp_path / f"plant_{kind}.csv"
        frame[frame["Type"] == kind].to_csv(files[f"type_{kind}"], index=False)
    run_dir = tmp_path / "run"
    cli = CliRunner()
    # Execute
    result = cli.invoke(app, ["flower", "up", "--model", "xgboost", "--dataset", "ai4i2020",
                              *(f"--site={site}={path}" for site, path in files.items()),
                              "--rounds", "2", "--seed", "3", "--dir", str(tmp_path / "dep"),
                              "--run-dir", str(run_dir), "--quiet"])
    # Assert: a complete tree run folder with its report
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["rounds_completed"] == 2
    assert tree_rounds(run_dir) == [0, 1, 2] and (run_dir / "report.html").is_file()
    data = DataConfig.model_validate(read_config(run_dir)["data"])
    for site, path in files.items():
        # Execute: predict every row of the plant's file with the deployed run's model
        out = tmp_path / f"{site}-predicted.csv"
        predicted = cli.invoke(app, ["predict", "--run", str(run_dir), "--data", str(path),
                                     "--out", str(out), "--quiet"])
        assert predicted.exit_code == 0, predicted.output
        # Assert: on the rows the site held out for testing, the run's test metrics of the site
        table = site_table(local_data_config(data, site, {"data-path": str(path)}), site, 3)
        held_out = table.table.times[table.window_ends()["test"]]  # AI4I's time order: UDI
        windows = pd.read_csv(out)  # one row per window: the row it ends on, its probability
        test_rows = windows[windows["UDI"].isin(held_out)]
        assert len(test_rows) == summary["per_site"][site]["num_examples"]
        served = load_served_model(run_dir)
        got = classification_metrics(test_rows["Machine failure"].to_numpy(np.int64),
                                     test_rows["probability"].to_numpy(), served.threshold)
        for key in ("f1", "pr_auc", "roc_auc"):
            assert got[key] == pytest.approx(summary["per_site"][site][key], abs=1e-6), key
