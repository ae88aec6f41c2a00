"""The quality benchmark's harness on a tiny configuration: schema, threshold, baseline.

The full benchmark takes tens of minutes; these checks run its own functions on a few
hundred built-in rows in seconds, so the measurement protocol is tested, not only the code.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from networkfed.data import DataConfig, load_federated_data
from networkfed.data.types import FederatedData, SplitTensors
from networkfed.federated.config import RunConfig

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
quality = importlib.import_module("quality")
protocols = importlib.import_module("quality_protocols")
quality_report = importlib.import_module("quality_report")

REQUIRED = ("dataset", "partition", "model", "mode", "strategy", "seeds", "f1_mean", "f1_std",
            "pr_auc_mean", "roc_auc_mean", "accuracy_mean", "majority_accuracy")
TINY = DataConfig(rows_per_site=300, sequence_length=1, split="stratified",
                  split_scope="pooled")


def _experiment(seed: int = 3) -> object:
    run = RunConfig(data=TINY, model="cnn", rounds=1, local_epochs=1, seed=seed,
                    baselines=True, min_fit_clients=2, workers=0)
    return protocols.Experiment("synthetic", "natural", "cnn", "fedavg", "tuned", seed, run,
                                classical=True, extra={"forest_trees": 20})


def _with_labels(data: FederatedData, split: str, relabel) -> FederatedData:
    """The same data with one split's labels replaced (features untouched)."""
    sites = {}
    for site_id, site in data.sites.items():
        old = getattr(site, split)
        new = SplitTensors(old.x, relabel(old.y), old.machine_ids)
        sites[site_id] = dataclasses.replace(site, **{split: new})
    return dataclasses.replace(data, sites=sites)


@pytest.fixture(scope="module")
def tiny_data() -> FederatedData:
    return load_federated_data(TINY, 3)


@pytest.fixture(scope="module")
def tiny_result(tiny_data: FederatedData) -> dict:
    return quality.run_experiment(_experiment(), tiny_data)


def test_records_have_the_issue_schema(tiny_result: dict) -> None:
    # Prepare: the seed result split into the neural and the classical model's results
    results = quality._rename_classical(tiny_result)

    # Execute
    records = quality_report.aggregate(results)
    table = quality_report.markdown_table(records)

    # Assert: every mode is there, with every required field, and the table lists each
    assert {r["mode"] for r in records} == {"federated", "centralized", "local", "classical"}
    for record in records:
        assert all(field in record for field in REQUIRED), record
        assert record["seeds"] == [3]
        assert 0.0 <= record["f1_mean"] <= 1.0
    assert {r["model"] for r in records if r["mode"] == "classical"} == {"random_forest"}
    assert len(table.strip().splitlines()) == len(records) + 2


def test_report_is_strict_json(tiny_result: dict) -> None:
    args = quality.argparse.Namespace(quick=True, workers=1)

    failed = {**tiny_result, "modes": {}, "error": "TrainingError: diverged"}

    document = quality.report([tiny_result, failed], args, 1.0)

    text = json.dumps(document, allow_nan=False)  # NaN would be invalid JSON
    assert json.loads(text)["records"]
    assert [f["error"] for f in document["failures"]] == ["TrainingError: diverged"]


def test_test_labels_never_choose_the_threshold(tiny_data: FederatedData,
                                                tiny_result: dict) -> None:
    # Prepare: the same rows with every test label flipped
    flipped = _with_labels(tiny_data, "test", lambda y: 1 - y)

    # Execute
    other = quality.run_experiment(_experiment(), flipped)

    # Assert: every mode picks the same thresholds, yet scores differently on test
    for mode, measured in tiny_result["modes"].items():
        for site, metrics in measured["per_site"].items():
            assert other["modes"][mode]["per_site"][site]["threshold"] == metrics["threshold"]
        assert other["modes"][mode]["overall"]["f1"] != measured["overall"]["f1"]


def test_majority_baseline_comes_from_test_labels(tiny_data: FederatedData) -> None:
    # Prepare
    y_test = torch.cat([site.test.y for site in tiny_data.sites.values()]).double()
    expected = max(float(y_test.mean()), 1.0 - float(y_test.mean()))
    no_train_failures = _with_labels(_with_labels(tiny_data, "train", torch.zeros_like),
                                     "val", torch.zeros_like)
    all_test_failures = _with_labels(tiny_data, "test", torch.ones_like)

    # Execute / Assert
    assert math.isclose(quality.majority_accuracy(tiny_data), expected)
    assert math.isclose(quality.majority_accuracy(no_train_failures), expected)
    assert quality.majority_accuracy(all_test_failures) == 1.0


def test_quick_plan_follows_the_protocols(tmp_path: Path) -> None:
    experiments = protocols.plan(tmp_path, quick=True)

    ai4i = [e for e in experiments if e.dataset == "ai4i2020"]
    cmapss = [e for e in experiments if e.dataset.startswith("cmapss")]
    assert {e.seed for e in experiments} == {0}
    assert all(e.run.rounds <= 2 for e in experiments)
    assert {e.partition for e in ai4i} == {"product_type", "dirichlet"}
    assert {e.model for e in experiments} == {"cnn", "lstm", "hybrid"}
    for experiment in ai4i:
        data = experiment.run.data
        assert (data.split, data.split_scope, data.test_fraction) == ("stratified", "pooled", 0.2)
        assert data.sequence_length == 1
    assert all(e.run.data.horizon == 30 for e in cmapss)
    assert {e.run.data.subsets for e in cmapss} == {("FD001", "FD002", "FD003", "FD004"),
                                                     ("FD001",)}


def test_tuned_ai4i_rounds_follow_each_model(tmp_path: Path) -> None:
    tuned = [e for e in protocols.plan(tmp_path, only="ai4i2020") if e.settings == "tuned"]

    rounds = {(e.model, e.run.rounds, e.run.hparams["step_size"]) for e in tuned}
    assert rounds == {("cnn", 45, 15), ("lstm", 60, 20), ("hybrid", 60, 20)}
    assert {e.run.class_weighting for e in tuned} == {"none"}


def test_tuned_lstm_and_hybrid_see_the_feature_subset_with_bins_others_the_ten(
    tmp_path: Path,
) -> None:
    ai4i = protocols.plan(tmp_path, only="ai4i2020")

    def inputs(experiments):
        return {(e.run.data.features, e.run.data.feature_bins) for e in experiments}

    tuned = [e for e in ai4i if e.settings == "tuned"]
    binned = [e for e in tuned if e.model in protocols.AI4I_BINNED_MODELS]
    assert {e.model for e in binned} == {"lstm", "hybrid"}
    assert inputs(binned) == {(protocols.AI4I_TUNED_FEATURES, protocols.AI4I_TUNED_BINS)}
    assert inputs(e for e in tuned if e.model == "cnn") == {(None, 0)}
    assert inputs(e for e in ai4i if e.settings == "default") == {(None, 0)}
    assert "air_temperature_k" not in protocols.AI4I_TUNED_FEATURES


def test_per_site_layers_run_for_every_model_with_its_own_switch(tmp_path: Path) -> None:
    experiments = protocols.plan(tmp_path)

    both = [e for e in experiments if e.run.fedbn and e.run.fedper]
    fedbn = [e for e in experiments if e.run.fedbn and not e.run.fedper]
    fedper = [e for e in experiments if e.run.fedper and not e.run.fedbn]
    assert {e.strategy for e in both} == {protocols.FEDBN_FEDPER}
    assert {(e.dataset, e.model) for e in both} == {("ai4i2020", "cnn"), ("ai4i2020", "hybrid")}
    assert {e.model for e in fedbn} == {"cnn", "hybrid"} and {e.model for e in fedper} == {"lstm"}
    assert {e.strategy for e in fedbn} == {protocols.FEDBN}
    assert {e.strategy for e in fedper} == {protocols.FEDPER}
    for runs in (fedbn, fedper):
        assert {(e.dataset, e.partition) for e in runs} == {
            ("ai4i2020", "product_type"), ("ai4i2020", "dirichlet"), ("cmapss", "subsets")}
        assert all(e.run.strategy == "fedavg" and not e.run.baselines for e in runs)


def _seed_result(model: str, strategy: str, federated_f1: float,
                 local_f1: float | None) -> dict:
    site = {"positives": 5, "pr_auc": 0.5}
    modes = {"federated": {"overall": {}, "per_site": {"a": {**site, "f1": federated_f1}}}}
    if local_f1 is not None:
        modes["local"] = {"overall": {}, "per_site": {"a": {**site, "f1": local_f1}}}
    return {"dataset": "ai4i2020", "partition": "dirichlet", "model": model,
            "strategy": strategy, "settings": "tuned", "seed": 0, "modes": modes}


def test_site_comparison_pairs_fedbn_with_the_fedavg_run_s_local_models() -> None:
    results = [
        _seed_result("cnn", "fedavg", 0.5, 0.6),            # worse than alone
        _seed_result("cnn", protocols.FEDBN, 0.7, None),    # better than the same local model
        _seed_result("lstm", "fedavg", 0.8, 0.6),
        _seed_result("lstm", protocols.FEDPER, 0.5, None),  # worse than the same local model
    ]

    sites = quality_report.site_comparison(results)
    checks = {c["target"].split("split), ", 1)[1]: c for c in quality_report._site_checks(sites)}

    fedbn = [s for s in sites if s["strategy"] == protocols.FEDBN]
    assert len(fedbn) == 1 and fedbn[0]["local_f1"] == 0.6
    assert checks["FedAvg"]["worse_federated"] == 1
    per_site = checks["FedBN for CNN and hybrid, FedPer for the LSTM"]
    assert per_site["worse_federated"] == 1 and per_site["comparable_site_runs"] == 2
