"""Each health rule on hand-made numbers: when it fires, what it says, what it suggests."""

from __future__ import annotations

from typing import Any

import pytest

from networkfed.data.label_stats import Disagreement
from networkfed.federated.findings import RunFacts, chance_reasons, find_problems
from networkfed.federated.references import trivial_references

# A 10 % failure rate: always-alarm F1 = 0.2 / 1.1 = 0.1818, chance PR-AUC 0.1.
REF = trivial_references(10, 100)
GOOD = {"f1": 0.6, "pr_auc": 0.55, "roc_auc": 0.9, "threshold": 0.4, "positives": 40}


def _facts(**changes: Any) -> RunFacts:
    base: dict[str, Any] = {
        "final": GOOD, "per_site": {"a": GOOD, "b": GOOD},
        "references": {"overall": REF, "per_site": {"a": REF, "b": REF}},
        "best_round": 4, "rounds_completed": 5,
        "history": [{"round": r, "val": {"loss": 0.5 - 0.01 * r}} for r in range(6)],
        "settings": {"model": "cnn", "fedbn": False, "fedper": False,
                     "normalization": "federated", "num_features": 10},
    }
    return RunFacts(**{**base, **changes})


def _codes(facts: RunFacts) -> list[str]:
    return [finding.code for finding in find_problems(facts)]


def test_a_healthy_run_has_no_finding() -> None:
    assert find_problems(_facts()) == []


@pytest.mark.parametrize(("metrics", "reason"), [
    ({**GOOD, "roc_auc": 0.55}, "ROC-AUC 0.550 <= 0.55"),
    ({**GOOD, "pr_auc": 0.12}, "PR-AUC 0.120 <= 1.2 x failure rate 0.100"),
    ({**GOOD, "f1": 0.2}, "F1 0.200 <= always-alarm F1 0.182 + 0.02"),
])
def test_each_chance_rule_fires_at_its_edge(metrics: dict, reason: str) -> None:
    assert chance_reasons(metrics, REF) == [reason]


def test_just_above_every_edge_is_better_than_chance() -> None:
    above = {"roc_auc": 0.551, "pr_auc": 0.121, "f1": 0.2019}
    assert chance_reasons(above, REF) == []


def test_a_site_at_chance_is_flagged_critical_by_name() -> None:
    # Execute
    found = find_problems(_facts(per_site={"a": GOOD, "b": {**GOOD, "roc_auc": 0.48}}))

    # Assert
    assert [f.code for f in found] == ["no_better_than_chance"]
    assert found[0].severity == "critical"
    assert "at b (b: ROC-AUC 0.480 <= 0.55)" in found[0].message


def test_a_best_round_at_chance_is_flagged_even_when_the_final_model_is_fine() -> None:
    # Prepare: round 3 is the best by validation, and at chance on test; round 5 is final
    history = [{"round": r, "val": {"loss": 0.5}, "test": GOOD} for r in range(6)]
    history[3] = {**history[3], "test": {**GOOD, "pr_auc": 0.11}}

    # Execute
    found = find_problems(_facts(best_round=3, history=history))

    # Assert
    assert [f.code for f in found] == ["no_better_than_chance"]
    assert found[0].message.startswith("The best round's model is no better than chance "
                                       "overall (best round 3: PR-AUC 0.110")


def test_sites_that_disagree_are_named_as_the_cause_with_remedies() -> None:
    # Prepare
    flip = Disagreement("air_temperature_k", {"heat": 0.3}, {"cold": -0.25})

    # Execute
    found = find_problems(_facts(final={**GOOD, "f1": 0.19}, disagreements=[flip]))

    # Assert
    cause = found[0].causes[0]
    assert cause.startswith("Sites disagree")
    assert "'air_temperature_k' goes with failures at heat +0.30 but against them at cold -0.25"\
        in cause
    remedies = " ".join(found[0].remedies)
    for remedy in ("--fedper", "--fedbn", 'normalization = "site"',
                   "--features without air_temperature_k"):
        assert remedy in remedies


def test_remedies_leave_out_what_the_run_already_does() -> None:
    settings = {"model": "lstm", "fedbn": False, "fedper": True, "normalization": "site",
                "num_features": 2, "dataset": "synthetic", "split": "auto"}
    found = find_problems(_facts(final={**GOOD, "f1": 0.1}, settings=settings))
    assert found[0].remedies == ()  # FedPer on, no BatchNorm in the LSTM, 2 features


def test_split_machine_is_suggested_for_a_csv_split_by_time() -> None:
    settings = {"model": "cnn", "dataset": "csv", "split": "auto", "num_features": 4}
    found = find_problems(_facts(final={**GOOD, "f1": 0.1}, settings=settings))
    assert any(r.startswith("--split machine") for r in found[0].remedies)


def test_best_round_zero_says_it_is_the_untrained_model() -> None:
    found = find_problems(_facts(best_round=0))
    assert [f.code for f in found] == ["best_round_is_zero"]
    assert "untrained initial model" in found[0].message


@pytest.mark.parametrize("threshold", [0.01, 0.005, 0.99, 0.999])
def test_a_threshold_at_the_edge_is_degenerate(threshold: float) -> None:
    assert _codes(_facts(final={**GOOD, "threshold": threshold})) == ["degenerate_threshold"]


@pytest.mark.parametrize("threshold", [0.011, 0.5, 0.989])
def test_a_threshold_inside_the_edges_is_fine(threshold: float) -> None:
    assert _codes(_facts(final={**GOOD, "threshold": threshold})) == []


def test_validation_loss_that_rose_over_ten_percent_is_found() -> None:
    # Prepare: 0.40 after round 1, 0.45 after round 3 (+12.5 %)
    history = [{"round": 0, "val": {"loss": 0.7}}, {"round": 1, "val": {"loss": 0.40}},
               {"round": 2, "val": {"loss": 0.38}}, {"round": 3, "val": {"loss": 0.45}}]

    # Execute
    found = find_problems(_facts(history=history, best_round=2))

    # Assert
    assert [f.code for f in found] == ["validation_loss_rose"]
    assert "from 0.4000 after round 1 to 0.4500 after round 3" in found[0].message
    assert any("--round 2" in remedy for remedy in found[0].remedies)


def test_a_loss_rise_under_ten_percent_or_over_too_few_rounds_is_not() -> None:
    small = [{"round": r, "val": {"loss": v}} for r, v in enumerate([0.7, 0.40, 0.42, 0.43])]
    short = [{"round": r, "val": {"loss": v}} for r, v in enumerate([0.7, 0.40, 0.60])]
    assert _codes(_facts(history=small)) == []
    assert _codes(_facts(history=short)) == []


def test_a_site_worse_off_than_alone_is_found_beyond_the_margin() -> None:
    # Prepare: a loses 0.03 F1 to its local model, b only 0.01
    local = {"a": {"f1": GOOD["f1"] + 0.03}, "b": {"f1": GOOD["f1"] + 0.01}}

    # Execute
    found = find_problems(_facts(local=local))

    # Assert
    assert [f.code for f in found] == ["worse_than_alone"]
    assert "a F1 0.600 federated vs 0.630 alone" in found[0].message
    assert "b F1" not in found[0].message


def test_few_test_failures_are_named_as_a_cause() -> None:
    found = find_problems(_facts(final={**GOOD, "f1": 0.1, "positives": 4}))
    assert "Only 4 failures in the test windows" in found[0].causes[0]


def test_few_failures_at_a_flagged_site_are_named_as_a_cause() -> None:
    # Prepare: b is worse off alone and has 12 test failures; a has 40 and is fine
    per_site = {"a": GOOD, "b": {**GOOD, "positives": 12}}
    local = {"b": {"f1": 0.7}}

    # Execute
    found = find_problems(_facts(per_site=per_site, local=local))

    # Assert
    assert found[0].causes == ("Few test failures at b 12: such a site's F1 moves a lot from "
                               "seed to seed; compare over several --seed values before acting.",)


def test_critical_findings_come_first_and_serialise() -> None:
    found = find_problems(_facts(final={**GOOD, "f1": 0.1, "threshold": 0.995}))
    assert [f.code for f in found] == ["no_better_than_chance", "degenerate_threshold"]
    assert set(found[0].to_dict()) == {"code", "severity", "message", "causes", "remedies"}


def test_a_rul_model_no_better_than_the_training_mean_is_flagged() -> None:
    # Prepare: site b's RMSE equals predicting the mean; overall and site a are below it
    reference = {"train_mean": 60.0, "mean_rmse": 40.0, "cap_rmse": 70.0}
    facts = RunFacts(
        final={"rmse": 20.0}, per_site={"a": {"rmse": 10.0}, "b": {"rmse": 40.0}},
        references={"overall": reference, "per_site": {"a": reference, "b": reference}},
        best_round=2, rounds_completed=3)

    # Execute
    found = find_problems(facts)

    # Assert
    assert [f.code for f in found] == ["no_better_than_chance"]
    assert "at b" in found[0].message and "RMSE 40.00 >= 40.00" in found[0].message
    assert "same remaining life for every engine" in found[0].message
    assert chance_reasons({"rmse": 39.9}, reference) == []
