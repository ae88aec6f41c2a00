"""The quality benchmark's protocol: validation chooses, held-out seeds report, test never chooses.

The full benchmark takes tens of minutes; these checks run its own functions on a few
hundred built-in rows in seconds (and, marked slow, the quick pipeline end to end on the real
datasets), so the measurement protocol is tested, not only the code.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from networkfed.data import DataConfig, load_federated_data
from networkfed.data.types import FederatedData, SplitTensors
from networkfed.federated.config import RunConfig

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
quality = importlib.import_module("quality")
search = importlib.import_module("quality_search")
protocols = importlib.import_module("quality_protocols")
runs = importlib.import_module("quality_runs")
selection_rule = importlib.import_module("quality_selection")
report = importlib.import_module("quality_report")

TINY = DataConfig(rows_per_site=300, sequence_length=1, split="stratified",
                  split_scope="pooled")


def _experiment(modes: tuple[str, ...] = ("federated", "centralized", "local")) -> object:
    run = RunConfig(data=TINY, model="cnn", rounds=2, local_epochs=1, seed=3, baselines=True,
                    min_fit_clients=2, workers=0)
    return protocols.Experiment("synthetic", "cnn", "s1", "fedavg", 3, "tuning", modes, run)


def _with_test_labels_flipped(data: FederatedData) -> FederatedData:
    sites = {sid: dataclasses.replace(site, test=SplitTensors(site.test.x, 1 - site.test.y,
                                                              site.test.machine_ids))
             for sid, site in data.sites.items()}
    return dataclasses.replace(data, sites=sites)


@pytest.fixture(scope="module")
def tiny_data() -> FederatedData:
    return load_federated_data(TINY, 3)


# --- the rule --------------------------------------------------------------------------------


def test_rule_maximises_or_minimises_the_named_metric_with_a_tie_break() -> None:
    candidates = {"a": [{"f1": 0.7, "pr_auc": 0.5}, {"f1": 0.9, "pr_auc": 0.5}],  # mean 0.8
                  "b": [{"f1": 0.8, "pr_auc": 0.6}, {"f1": 0.8, "pr_auc": 0.6}],  # 0.8, tie
                  "c": [{"f1": 0.75, "pr_auc": 0.9}, {"f1": 0.75, "pr_auc": 0.9}]}
    rmse = {"small": [{"rmse": 10.0, "mae": 1.0}], "large": [{"rmse": 12.0, "mae": 0.5}]}

    assert selection_rule.choose(candidates, selection_rule.Rule()) == "b"
    assert selection_rule.ranked(candidates, selection_rule.Rule()) == ["b", "a", "c"]
    assert selection_rule.choose(rmse, selection_rule.Rule("rmse", maximize=False,
                                                           tie_break="mae",
                                                           tie_maximize=False)) == "small"


def test_rule_never_picks_a_candidate_missing_a_seed_and_keeps_declaration_order() -> None:
    failed_once = {"failed": [{"f1": 0.99}, {}], "ok": [{"f1": 0.5}, {"f1": 0.5}]}
    tied = {"first": [{"f1": 0.5, "pr_auc": 0.5}], "second": [{"f1": 0.5, "pr_auc": 0.5}]}

    assert selection_rule.choose(failed_once, selection_rule.Rule()) == "ok"
    assert selection_rule.choose(tied, selection_rule.Rule()) == "first"
    with pytest.raises(ValueError, match="finite mean validation f1"):
        selection_rule.choose({"x": [{"f1": math.nan}]}, selection_rule.Rule())


# --- records: validation and test apart, test labels choose nothing ---------------------------


def test_records_keep_validation_and_test_and_test_labels_choose_nothing(
    tiny_data: FederatedData,
) -> None:
    # Prepare: the same rows with every test label flipped
    flipped = _with_test_labels_flipped(tiny_data)

    # Execute
    records = runs.run_experiment(_experiment(), tiny_data)
    other = runs.run_experiment(_experiment(), flipped)

    # Assert: one record per mode; validation (and the threshold chosen on it) identical,
    # test metrics different, so nothing a choice reads depends on test labels
    assert [r["mode"] for r in records] == ["centralized", "local", "federated"]
    for mine, theirs in zip(records, other, strict=True):
        assert {"validation", "test", "seed", "seed_set", "settings", "seconds"} <= set(mine)
        assert mine["validation"] == pytest.approx(theirs["validation"], nan_ok=True)
        assert mine["test"]["f1"] != theirs["test"]["f1"]
    federated = records[-1]
    assert federated["best_round"] in range(3) and len(federated["val_f1_by_round"]) == 3
    assert federated["test"]["threshold"] == federated["validation"]["threshold"]


def test_search_candidates_hold_no_test_metric(tiny_data: FederatedData) -> None:
    records = runs.run_experiment(_experiment(), tiny_data)
    scenario = dataclasses.replace(protocols.SCENARIOS[0], name="synthetic", models=("cnn",),
                                   settings={"cnn": {"s1": {}}}, tuning_seeds=(3,))

    rows = search.candidate_table(records, [scenario], quick=False)

    assert {r["mode"] for r in rows} == {"federated", "centralized", "local"}
    assert "test" not in json.dumps(rows)


# --- plans -----------------------------------------------------------------------------------


def test_seed_sets_are_disjoint_and_large_enough() -> None:
    for scenario in protocols.SCENARIOS:
        assert not set(scenario.tuning_seeds) & set(scenario.held_out_seeds), scenario.name
        minimum = 5 if scenario.dataset == "ai4i2020" else 3
        assert len(scenario.held_out_seeds) >= minimum, scenario.name


def test_search_plan_runs_every_settings_candidate_with_baselines(tmp_path: Path) -> None:
    experiments = search.plan(list(protocols.SCENARIOS), tmp_path, quick=False)

    assert {e.seed_set for e in experiments} == {"tuning"}
    for scenario in protocols.SCENARIOS:
        mine = [e for e in experiments if e.scenario == scenario.name]
        assert {e.seed for e in mine} == set(scenario.tuning_seeds)
        first = scenario.base.label  # fedavg, or xgb-bagging for the tree scenarios
        for model in scenario.models:
            base = [e for e in mine if e.model == model and e.strategy == first]
            assert {e.settings for e in base} == set(scenario.settings[model])
            assert all(e.run.baselines != scenario.single_site for e in base)
            others = [e for e in mine if e.model == model and e.strategy != first]
            assert {e.settings for e in others} <= {next(iter(scenario.settings[model]))}
            assert {e.strategy for e in others} == {
                s.label for s in scenario.strategies_of(model)} - {first} - (
                {s.label for s in scenario.strategies} if scenario.single_site else set())


def _pick(settings: str, strategy: str = "-") -> dict:
    return {"settings": settings, "strategy": strategy}


def test_held_out_plan_runs_only_the_choices_on_held_out_seeds(tmp_path: Path) -> None:
    # Prepare: the LSTM is best; its centralized and local-only choices differ
    scenario = protocols.SCENARIOS[0]
    names = {m: list(scenario.settings[m]) for m in scenario.models}
    choices = {scenario.name: {"best_model": "lstm", "primary_mode": "federated", "models": {
        "lstm": {"federated": _pick(names["lstm"][0], "fedavg+fedper"),
                 "centralized": _pick(names["lstm"][1]), "local": _pick(names["lstm"][0])},
        "cnn": {"federated": _pick(names["cnn"][1], "fedavg"),
                "centralized": _pick(names["cnn"][0]), "local": _pick(names["cnn"][0])},
        "hybrid": {"federated": _pick(names["hybrid"][0], "fedavg+fedbn"),
                   "centralized": _pick(names["hybrid"][0]),
                   "local": _pick(names["hybrid"][0])}}}}

    # Execute
    experiments = quality.plan({"choices": choices}, [scenario], tmp_path, quick=False)

    # Assert: per held-out seed one classical run, the best model in every mode (two
    # baseline runs, one federated-only), the other models federated only
    assert {e.seed for e in experiments} == set(scenario.held_out_seeds)
    seed = [e for e in experiments if e.seed == scenario.held_out_seeds[0]]
    kept = sorted((e.model, e.settings, e.strategy, e.run is not None and e.run.baselines,
                   e.modes) for e in seed)
    assert kept == sorted([
        ("classical", "-", "-", False, ("classical",)),
        ("lstm", names["lstm"][0], "fedavg+fedper", False, ("federated",)),
        ("lstm", names["lstm"][1], "fedavg", True, ("centralized",)),
        ("lstm", names["lstm"][0], "fedavg", True, ("local",)),
        ("cnn", names["cnn"][1], "fedavg", False, ("federated",)),
        ("hybrid", names["hybrid"][0], "fedavg+fedbn", False, ("federated",)),
    ])
    per_layer = next(e for e in seed if e.strategy == "fedavg+fedper")
    assert per_layer.run.fedper and not per_layer.run.fedbn


def test_targets_compare_the_best_model_with_its_own_centralized_choice() -> None:
    def agg(model: str, mode: str, settings: str, strategy: str, f1: float) -> dict:
        return {"scenario": "ai4i-product_type", "model": model, "mode": mode,
                "settings": settings, "strategy": strategy, "test_f1_mean": f1,
                "test_pr_auc_mean": 0.9}

    quality_doc = {
        "choices": {"ai4i-product_type": {"best_model": "lstm", "primary_mode": "federated",
                                          "models": {"lstm": {"federated": _pick("a", "fedavg"),
                                                              "centralized": _pick("b")}}}},
        "aggregates": [agg("lstm", "federated", "a", "fedavg", 0.81),
                       agg("lstm", "centralized", "a", "-", 0.99),   # not its choice
                       agg("lstm", "centralized", "b", "-", 0.84)],
    }
    targets = [t for t in protocols.TARGETS if t.scenario == "ai4i-product_type"]

    checks = report.target_checks(quality_doc, targets)

    floor, gap = checks
    assert floor["met"] and floor["f1"] == 0.81
    assert gap["centralized"] == 0.84 and gap["gap"] == pytest.approx(0.03)
    assert not gap["met"] and "gap 0.030" in gap["measured"]


# --- end to end ------------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_pipeline_runs_end_to_end_on_real_data(data_dir: Path, tmp_path: Path) -> None:
    common = ["--quick", "--workers", "1", "--data-dir", str(data_dir), "--output",
              str(tmp_path)]

    search.main([*common, "--only", "ai4i-product_type", "--models", "lstm"])
    selection = json.loads((tmp_path / "quality_selection_quick.json").read_text())
    quality.main([*common, "--selection", str(tmp_path / "quality_selection_quick.json")])
    document = json.loads((tmp_path / "quality_quick.json").read_text())

    assert selection["choices"]["ai4i-product_type"]["best_model"] == "lstm"
    assert len(selection["candidates"]) == 2 * 3 + 1  # 2 settings x 3 modes + FedPer
    imported = document["provenance"]["source_files"]
    assert "src/networkfed/federated/local_training.py" in imported
    assert imported.items() <= selection["provenance"]["source_files"].items()
    assert {r["seed_set"] for r in document["records"]} == {"held_out"}
    assert {r["seed"] for r in document["records"]} == {100}
    assert {(r["model"], r["mode"]) for r in document["records"]} == {
        ("lstm", "federated"), ("lstm", "centralized"), ("lstm", "local"),
        ("random_forest", "classical"), ("gradient_boosting", "classical")}
    assert all(0.0 <= r["test"]["f1"] <= 1.0 and "f1" in r["validation"]
               for r in document["records"])
    assert [t["scenario"] for t in document["targets"]] == ["ai4i-product_type"] * 2
    assert "## Targets" in (tmp_path / "QUALITY_quick.md").read_text()


def test_provenance_keeps_only_the_package_files_a_process_imported() -> None:
    # Execute: a fresh process that imports the data layer only (pytest's own process has
    # imported everything)
    code = ("import sys; sys.path.insert(0, 'benchmarks'); import networkfed.data; "
            "from provenance import package_files_loaded; "
            "print('\\n'.join(sorted(package_files_loaded())))")
    done = subprocess.run([sys.executable, "-c", code], cwd=BENCHMARKS.parent, capture_output=True,
                          text=True, check=True)
    loaded = set(done.stdout.split())

    # Assert: the data layer is there, the CLI and the Flower deployment are not
    assert "src/networkfed/data/pipeline.py" in loaded
    assert not any(p.startswith(("src/networkfed/cli/", "src/networkfed/flower/"))
                   for p in loaded)


def test_a_partial_rerun_keeps_the_other_scenarios_and_refuses_stale_ones() -> None:
    # Prepare: the committed result split into two parts, as two runs would write them
    full = json.loads((BENCHMARKS / "results" / "quality.json").read_text())
    xgb = {n for n in full["choices"] if n.endswith("-xgboost")}

    def part(names: set[str]) -> dict:
        return {**full, "records": [r for r in full["records"] if r["scenario"] in names],
                "failures": [], "runs": 1, "elapsed_seconds": 2.0,
                "choices": {k: v for k, v in full["choices"].items() if k in names},
                "held_out_seeds": {k: v for k, v in full["held_out_seeds"].items()
                                   if k in names}}
    previous, new = part(set(full["choices"]) - xgb), part(xgb)
    previous.pop("parts", None)

    # Execute
    both = quality.merged(previous, new, xgb)

    # Assert: every scenario's records and targets back, the runs of both parts counted
    assert len(both["records"]) == len(full["records"])
    assert [t["target"] for t in both["targets"]] == [t["target"] for t in full["targets"]]
    assert both["runs"] == 2 and len(both["parts"]) == 2

    # Execute / Assert: a part made by other package source is refused, naming the file
    path = "src/networkfed/federated/local_training.py"
    stale = {**previous, "provenance": {**previous["provenance"],
                                        "source_files": {path: "0" * 64}}}
    with pytest.raises(SystemExit, match=r"local_training\.py"):
        quality.merged(stale, new, xgb)
