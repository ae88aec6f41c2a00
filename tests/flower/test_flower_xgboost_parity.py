"""``--model xgboost`` on Flower's simulation engine (Ray) against the in-process engine: the
booster travels as JSON bytes in an ``ArrayRecord``, the round loop is the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from networkfed.api import run_federated
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.trees.checkpoint import read_round

pytestmark = [pytest.mark.flower, pytest.mark.slow]


@pytest.mark.parametrize("strategy", ["xgb-bagging", "xgb-cyclic"])
def test_flower_simulation_grows_the_in_process_booster(tmp_path: Path, strategy: str) -> None:
    # Prepare
    config = RunConfig(data=DataConfig(rows_per_site=300), model="xgboost", strategy=strategy,
                       rounds=2, local_epochs=2, seed=9)

    # Execute
    inprocess = run_federated(config, run_dir=tmp_path / "inprocess")
    flower = run_federated(config.model_copy(update={"engine": "flower"}),
                           run_dir=tmp_path / "flower")

    # Assert: the same trees, the same metrics every round, the same run folder
    assert read_round(tmp_path / "flower")[1] == read_round(tmp_path / "inprocess")[1]
    assert flower.last.overall == inprocess.last.overall
    rows = [(tmp_path / name / "metrics.jsonl").read_text().splitlines()
            for name in ("flower", "inprocess")]
    assert [json.loads(r) for r in rows[0]] == [json.loads(r) for r in rows[1]]
    assert (tmp_path / "flower" / "report.html").is_file()


def test_a_rul_run_on_flower_simulation_grows_the_in_process_booster(tmp_path: Path) -> None:
    # Prepare: a run-to-failure fleet, reg:squarederror trees
    from tiny_runs import write_fleet_csv

    fleet = write_fleet_csv(tmp_path / "fleet.csv", machines_per_plant=8)
    data = DataConfig(dataset="csv", data_path=fleet, task="rul", rul_cap=80,
                      run_to_failure=True, site_column="plant", group_column="machine",
                      time_column="cycle", feature_columns=("wear", "vibration", "noise"),
                      split="machine", sequence_length=5)
    config = RunConfig(data=data, model="xgboost", rounds=2, local_epochs=2, seed=9,
                       min_fit_clients=2)

    # Execute
    inprocess = run_federated(config, run_dir=tmp_path / "inprocess")
    flower = run_federated(config.model_copy(update={"engine": "flower"}),
                           run_dir=tmp_path / "flower")

    # Assert: the same trees and the same RUL scores (remaining life, not classes)
    assert read_round(tmp_path / "flower")[1] == read_round(tmp_path / "inprocess")[1]
    rows = [[json.loads(r) for r in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
            for name in ("flower", "inprocess")]
    assert rows[0] == rows[1]
    assert flower.last.overall["rmse"] == inprocess.last.overall["rmse"]
    assert "f1" not in flower.last.overall
