"""``model='xgboost'`` through ``run_federated``: both algorithms, the run folder, the model
size per round, resume, baselines, and a site with no failure to learn from."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from engine_helpers import StopAfter, metric_values, tiny_config, tiny_data
from networkfed.api import run_federated
from networkfed.trees.checkpoint import read_round, tree_rounds


def _config(**changes: Any) -> Any:
    return tiny_config(**{"model": "xgboost", "rounds": 3, "local_epochs": 2, **changes})


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("strategy", ["xgb-bagging", "xgb-cyclic"])
def test_a_run_writes_the_networks_run_folder_and_repeats_with_its_seed(
    tmp_path: Path, strategy: str
) -> None:
    # Execute: the same seeded run twice
    first = run_federated(_config(strategy=strategy), tiny_data(), run_dir=tmp_path / "a")
    second = run_federated(_config(strategy=strategy), tiny_data(), run_dir=tmp_path / "b")

    # Assert: a trained, reproducible model with every file of a run folder
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert metric_values(summary) == metric_values(
        json.loads((tmp_path / "b" / "summary.json").read_text()))
    assert first.last.evaluation.overall == second.last.evaluation.overall
    assert first.history[-1]["val"]["pr_auc"] > first.history[0]["val"]["pr_auc"]
    assert first.last.evaluation.threshold == read_round(tmp_path / "a")[2]["threshold"]
    assert tree_rounds(tmp_path / "a") == [0, 1, 2, 3]
    for name in ("config.toml", "manifest.json", "predictions.csv", "report.html"):
        assert (tmp_path / "a" / name).is_file(), name


def test_bagging_grows_by_sites_times_local_rounds_and_cyclic_by_local_rounds(
    tmp_path: Path,
) -> None:
    run_federated(_config(), tiny_data(), run_dir=tmp_path / "bagging")
    run_federated(_config(strategy="xgb-cyclic"), tiny_data(), run_dir=tmp_path / "cyclic")

    sizes = {name: [r for r in _rows(tmp_path / name) if r["split"] == "model"]
             for name in ("bagging", "cyclic")}
    assert [r["trees"] for r in sizes["bagging"]] == [0, 6, 12, 18]  # 3 sites x 2 trees
    assert [r["trees"] for r in sizes["cyclic"]] == [0, 2, 4, 6]
    saved = read_round(tmp_path / "bagging", 3)
    assert sizes["bagging"][-1]["model_bytes"] == len(saved[1]) == saved[2]["model_bytes"]
    trained = [r["site"] for r in _rows(tmp_path / "cyclic") if r["split"] == "train"]
    assert trained == tiny_data().site_ids  # one site a round, in turn


def test_resume_after_an_interruption_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    # Prepare: a whole run, and one stopped after round 1 was saved
    config = _config(rounds=4, baselines=True)
    run_federated(config, tiny_data(), run_dir=tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run_federated(config, tiny_data(), run_dir=tmp_path / "cut", callbacks=[StopAfter(2)])

    # Execute
    run_federated(config, tiny_data(), run_dir=tmp_path / "cut", resume=True)

    # Assert
    whole, cut = (json.loads((tmp_path / n / "summary.json").read_text()) for n in ("whole", "cut"))
    assert metric_values(cut) == metric_values(whole)
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole")
    assert read_round(tmp_path / "cut")[1] == read_round(tmp_path / "whole")[1]


def test_baselines_are_centralized_xgboost_and_every_site_alone(tmp_path: Path) -> None:
    result = run_federated(_config(baselines=True), tiny_data())

    assert result.baselines.centralized is not None and result.baselines.local is not None
    assert set(result.baselines.local.per_site) == set(tiny_data().site_ids)
    assert result.baselines.centralized.overall["pr_auc"] > result.history[0]["test"]["pr_auc"]


def test_a_site_without_a_failure_in_its_training_rows_still_trains() -> None:
    # Prepare: the first site's training labels all 0
    data = tiny_data()
    site_id = data.site_ids[0]
    site = data.sites[site_id]
    calm = dataclasses.replace(site.train, y=torch.zeros_like(site.train.y))
    data = dataclasses.replace(
        data, sites={**data.sites, site_id: dataclasses.replace(site, train=calm)})

    # Execute
    result = run_federated(_config(), data)

    # Assert
    assert site_id in result.last.trained
    # it learned "no failure": below the untrained booster's log-loss, ln 2
    assert result.last.train_metrics[site_id]["train_loss"] < math.log(2) - 0.2


def test_the_mlflow_model_folder_of_a_tree_run_predicts_like_the_run(tmp_path: Path) -> None:
    from networkfed.monitoring.tracking import model_folder
    from networkfed.serving.checkpoint import load_served_model

    run_federated(_config(), tiny_data(), run_dir=tmp_path / "run")

    assert model_folder(tmp_path / "run", tmp_path / "copy")
    copied, original = load_served_model(tmp_path / "copy"), load_served_model(tmp_path / "run")
    assert (copied.round_num, copied.threshold) == (original.round_num, original.threshold)
    x = tiny_data().sites[tiny_data().site_ids[0]].test.x
    assert (copied.predict_proba(x) == original.predict_proba(x)).all()


def test_a_flower_deployment_refuses_xgboost_naming_what_runs_it() -> None:
    from networkfed.core.errors import ConfigError
    from networkfed.flower.engine import serving

    config = _config(engine="flower")
    with serving(object()), pytest.raises(ConfigError, match="Flower deployment"):  # type: ignore[arg-type]
        run_federated(config, tiny_data())
