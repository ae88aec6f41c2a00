"""The quality benchmark's remaining-life rows (issue #23): chosen by validation RMSE, scored
by test RMSE / NASA score per C-MAPSS subset, targets read "lower is better"."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import sys
from pathlib import Path

import pytest

from networkfed.data.types import FederatedData, SplitTensors

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
search = importlib.import_module("quality_search")
quality = importlib.import_module("quality")
protocols = importlib.import_module("quality_protocols")
runs = importlib.import_module("quality_runs")
report = importlib.import_module("quality_report")

RUL_SCENARIOS = [s for s in protocols.SCENARIOS if s.regression]


def _scenario(name: str) -> object:
    return next(s for s in protocols.SCENARIOS if s.name == name)


@pytest.fixture(scope="module")
def fd001(data_dir: Path) -> tuple[object, FederatedData]:
    """FD001 as the RUL scenario declares it, every 8th training window (seconds)."""
    scenario = _scenario("cmapss-fd001-rul")
    config = protocols.scenario_data(scenario, data_dir)
    return scenario, runs.load(config.model_dump_json(), 0, 8)


# --- declarations ---------------------------------------------------------------------------


def test_rul_scenarios_minimise_validation_rmse_and_configure_a_rul_run(tmp_path: Path) -> None:
    names = {s.name for s in RUL_SCENARIOS}

    experiments = [e for e in search.plan(RUL_SCENARIOS, tmp_path, quick=False)]

    assert names == {"cmapss-fd001-rul", "cmapss-subsets-rul", "cmapss-fd001-rul-xgboost",
                     "cmapss-subsets-rul-xgboost"}
    assert all(s.rule.metric == "rmse" and not s.rule.maximize for s in RUL_SCENARIOS)
    assert {e.run.data.task for e in experiments} == {"rul"}
    assert {e.run.data.rul_cap for e in experiments} == {125}
    networks = [e for e in experiments if e.model != "xgboost"]
    assert {e.run.rul_loss for e in networks} == {"mse"}
    assert _scenario("cmapss-subsets-rul").modes == ("federated", "centralized", "local")
    subsets = [e for e in experiments if e.scenario == "cmapss-subsets-rul"]
    assert all(e.run.baselines and len(e.run.data.subsets) == 4 for e in subsets)


def test_the_window_is_a_declared_setting() -> None:
    scenario = _scenario("cmapss-subsets-rul")
    settings = dict(next(iter(scenario.settings["lstm"].values())), sequence_length=30)

    run = protocols.run_config(scenario, Path("/data"), "lstm", 0, settings, protocols.FEDAVG,
                               baselines=True)

    assert run.data.sequence_length == 30
    assert protocols.scenario_data(scenario, Path("/data")).sequence_length == 19


def test_choice_goes_to_the_lowest_mean_validation_rmse() -> None:
    rows = [{"scenario": "cmapss-subsets-rul", "model": "lstm", "mode": "federated",
             "settings": name, "strategy": "fedavg", "validation": per_seed,
             "validation_mean": {}}
            for name, per_seed in (("10r-b256-lr3e-3", [{"rmse": 15.0, "mae": 11.0}] * 3),
                                   ("10r-b128-lr1e-3", [{"rmse": 14.0, "mae": 12.0}] * 3))]
    scenario = dataclasses.replace(_scenario("cmapss-subsets-rul"), models=("lstm",))

    chosen = search.choices(rows, [scenario])["cmapss-subsets-rul"]

    assert chosen["models"]["lstm"]["federated"]["settings"] == "10r-b128-lr1e-3"
    assert chosen["task"] == "rul" and "lowest mean validation rmse" in chosen["rule"]


# --- records --------------------------------------------------------------------------------


def _test_rul_shifted(data: FederatedData) -> FederatedData:
    sites = {sid: dataclasses.replace(site, test=SplitTensors(
        site.test.x, site.test.y + 50.0, site.test.machine_ids))
        for sid, site in data.sites.items()}
    return dataclasses.replace(data, sites=sites)


def test_rul_records_score_rmse_per_subset_and_test_targets_choose_nothing(
        fd001: tuple[object, FederatedData], data_dir: Path) -> None:
    # Prepare: one round of the first candidate; the same rows with every test target moved
    scenario, data = fd001
    name, settings = next(iter(scenario.settings["hybrid"].items()))
    run = protocols.run_config(scenario, data_dir, "hybrid", 0, settings, protocols.FEDAVG,
                               baselines=False, quick=True).model_copy(update={"rounds": 1})
    experiment = protocols.Experiment(scenario.name, "hybrid", name, "fedavg", 0, "tuning",
                                      ("centralized",), run, 8)

    # Execute
    (record,) = runs.run_experiment(experiment, data)
    (shifted,) = runs.run_experiment(experiment, _test_rul_shifted(data))

    # Assert: RUL metrics overall and for the FD001 site, the mean's RMSE as a floor,
    # validation untouched by the test targets
    assert record["mode"] == "centralized"
    assert {"rmse", "nasa_score", "mae", "within_10"} <= set(record["test"])
    assert record["per_site_test"]["FD001"]["rmse"] == pytest.approx(record["test"]["rmse"])
    assert record["test"]["num_examples"] == 100  # every official test engine, last window
    assert len(record["val_rmse_by_round"]) == 2
    assert record["mean_predictor_rmse"] > 0 and "majority_accuracy" not in record
    assert "test_failures" not in record["setup"]["sites"]["FD001"]
    assert shifted["validation"] == pytest.approx(record["validation"], nan_ok=True)
    assert shifted["test"]["rmse"] != record["test"]["rmse"]


def test_tree_regressors_beat_predicting_the_mean(fd001: tuple[object, FederatedData]) -> None:
    _, data = fd001
    floor = runs.mean_predictor_rmse(data)

    forest = runs.classical_reference(data, 0, "random_forest")
    boosted = runs.classical_reference(data, 0, "gradient_boosting")

    assert math.isnan(forest.threshold)
    for evaluation in (forest, boosted):
        assert evaluation.overall["rmse"] < 0.7 * floor
        assert "rmse" in evaluation.validation and evaluation.overall["num_examples"] == 100


# --- targets and tables ---------------------------------------------------------------------


def _row(mode: str, settings: str, per_site: dict[str, tuple[float, float]],
         scenario: str = "cmapss-subsets-rul") -> dict:
    """An aggregate row: per site (RMSE, NASA score) means; overall = their mean."""
    rmse = sum(v[0] for v in per_site.values()) / len(per_site)
    nasa = sum(v[1] for v in per_site.values())
    return {"scenario": scenario, "model": "lstm", "mode": mode, "settings": settings,
            "strategy": "fedavg" if mode == "federated" else "-",
            "test_rmse_mean": rmse, "test_rmse_sd": 0.5, "test_nasa_score_mean": nasa,
            "test_nasa_score_sd": 10.0,
            "per_site_test": {site: {"rmse_mean": r, "rmse_sd": 0.1, "nasa_score_mean": n,
                                     "nasa_score_sd": 1.0} for site, (r, n) in per_site.items()}}


def _subsets_quality() -> dict:
    pick = {"federated": {"settings": "a", "strategy": "fedavg"},
            "centralized": {"settings": "b", "strategy": "-"},
            "local": {"settings": "a", "strategy": "-"}}
    return {
        "choices": {"cmapss-subsets-rul": {"best_model": "lstm", "primary_mode": "federated",
                                           "task": "rul", "rule": "lowest",
                                           "models": {"lstm": pick}}},
        "aggregates": [
            _row("federated", "a", {"FD001": (13.0, 300), "FD002": (17.0, 1500),
                                    "FD003": (12.0, 250), "FD004": (15.0, 2000)}),
            _row("centralized", "a", {"FD001": (1.0, 1), "FD002": (1.0, 1),  # not its choice
                                      "FD003": (1.0, 1), "FD004": (1.0, 1)}),
            _row("centralized", "b", {"FD001": (12.0, 280), "FD002": (16.0, 1400),
                                      "FD003": (12.5, 260), "FD004": (15.5, 2100)}),
            _row("local", "a", {"FD001": (14.0, 400), "FD002": (18.0, 1800),
                                "FD003": (14.0, 350), "FD004": (19.0, 4000)})]}


def test_rul_targets_read_lower_as_better_per_subset_and_in_percent() -> None:
    quality_doc = _subsets_quality()
    targets = [t for t in protocols.TARGETS if t.scenario == "cmapss-subsets-rul"]

    gap, moonshot = report.target_checks(quality_doc, targets)

    # FD001 13 vs 12 is 8.3 % worse, FD002 17 vs 16 6.3 %, FD003 / FD004 better: met
    assert gap["met"] and gap["gap"] == pytest.approx(1 / 12)
    assert gap["per_site"]["FD003 rmse"]["gap"] == pytest.approx(-0.5 / 12.5)
    assert "FD001 federated 13.00 vs centralized 12.00 (+8.3 %)" in gap["measured"]
    # FD002 17 > 16 misses although FD004 15 <= 16
    assert not moonshot["met"] and moonshot["FD004 rmse"] == 15.0
    assert set(moonshot) >= {"FD002 rmse", "FD004 rmse"} and "FD001 rmse" not in moonshot

    quality_doc["aggregates"][0]["per_site_test"]["FD001"]["rmse_mean"] = 13.5  # 12.5 % worse
    assert not report.target_checks(quality_doc, targets)[0]["met"]


def test_fd001_target_is_a_maximum_on_rmse_and_nasa_score() -> None:
    def doc(rmse: float, nasa: float) -> dict:
        return {"choices": {"cmapss-fd001-rul": {
                    "best_model": "lstm", "primary_mode": "centralized", "task": "rul",
                    "models": {"lstm": {"centralized": {"settings": "a", "strategy": "-"}}}}},
                "aggregates": [_row("centralized", "a", {"FD001": (rmse, nasa)},
                                    "cmapss-fd001-rul")]}
    (target,) = [t for t in protocols.TARGETS if t.scenario == "cmapss-fd001-rul"]

    assert report.target_checks(doc(12.4, 290), [target])[0]["met"]
    assert not report.target_checks(doc(12.4, 310), [target])[0]["met"]
    assert not report.target_checks(doc(12.6, 290), [target])[0]["met"]


def test_headline_shows_rul_per_subset_in_its_own_table() -> None:
    quality_doc = _subsets_quality()
    quality_doc["targets"] = report.target_checks(quality_doc, protocols.TARGETS)

    table = report.headline_table(quality_doc)

    classification, rul = table.split("| scenario | subset |")
    assert "cmapss-subsets-rul" not in classification  # no F1 row for a regression
    rows = [line for line in rul.splitlines() if line.startswith("| cmapss-subsets-rul")]
    assert [r.split(" | ")[1] for r in rows] == ["FD001", "FD002", "FD003", "FD004"]
    assert "| 17.00 ± 0.10 / 1500 ± 1 | 16.00 ± 0.10 / 1400 ± 1 | 18.00 ± 0.10 / 1800 ± 1 |" \
        in rows[1]
    assert "federated RMSE <= 16 on FD002 and FD004: MISSED" in rul


def test_aggregate_keeps_each_subsets_rmse_over_seeds() -> None:
    def record(seed: int, fd001: float, fd002: float) -> dict:
        per_site = {"FD001": {"rmse": fd001, "nasa_score": 1.0},
                    "FD002": {"rmse": fd002, "nasa_score": 2.0}}
        return {"scenario": "cmapss-subsets-rul", "model": "lstm", "mode": "federated",
                "settings": "a", "strategy": "fedavg", "seed": seed, "seed_set": "held_out",
                "validation": {"rmse": 1.0}, "test": {"rmse": (fd001 + fd002) / 2},
                "per_site_test": per_site, "mean_predictor_rmse": 40.0}

    (row,) = report.aggregate([record(100, 12.0, 16.0), record(101, 14.0, 18.0)])

    assert row["per_site_test"]["FD001"]["rmse_mean"] == pytest.approx(13.0)
    assert row["per_site_test"]["FD002"]["rmse_sd"] == pytest.approx(math.sqrt(2.0))
    assert row["test_rmse_mean"] == pytest.approx(15.0) and row["mean_predictor_rmse"] == 40.0


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_rul_pipeline_runs_end_to_end_on_fd001(data_dir: Path, tmp_path: Path) -> None:
    common = ["--quick", "--workers", "1", "--data-dir", str(data_dir), "--output",
              str(tmp_path), "--only", "cmapss-fd001-rul"]

    search.main([*common, "--models", "hybrid"])
    quality.main([*common, "--selection", str(tmp_path / "quality_selection_quick.json")])
    document = (tmp_path / "quality_quick.json").read_text()
    markdown = (tmp_path / "QUALITY_quick.md").read_text()

    result = json.loads(document)
    assert {(r["model"], r["mode"]) for r in result["records"]} == {
        ("hybrid", "centralized"), ("random_forest", "classical"),
        ("gradient_boosting", "classical")}
    assert all(r["test"]["num_examples"] == 100 and r["test"]["rmse"] > 0
               for r in result["records"])
    (target,) = result["targets"]
    assert target["scenario"] == "cmapss-fd001-rul" and "rmse" in target["measured"]
    assert "| cmapss-fd001-rul | FD001 | hybrid" in markdown and "RUL targets:" in markdown
    assert "lowest mean validation rmse" in markdown
