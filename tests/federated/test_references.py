"""The trivial references against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from networkfed.federated.metrics import classification_metrics
from networkfed.federated.references import references_of, rul_references, trivial_references


def test_references_of_ten_failures_in_two_hundred_windows() -> None:
    # Execute
    found = trivial_references(10, 200)

    # Assert: p = 0.05; always-alarm F1 = 2 x 0.05 / 1.05
    assert found == pytest.approx(
        {"failure_rate": 0.05, "f1": 0.1 / 1.05, "pr_auc": 0.05, "roc_auc": 0.5})


def test_always_alarm_f1_is_what_the_metrics_score_for_an_alarm_on_every_window() -> None:
    # Prepare: 7 failures among 60 windows, every probability 1 (alarm everywhere)
    y = np.array([1] * 7 + [0] * 53)

    # Execute
    scored = classification_metrics(y, np.ones(60), 0.5)
    reference = trivial_references(7, 60)

    # Assert: the formula is the metric itself, and a constant score's PR-AUC is p
    assert reference["f1"] == pytest.approx(scored["f1"])
    assert reference["pr_auc"] == pytest.approx(scored["pr_auc"])


def test_no_windows_gives_nan_and_no_failures_gives_zero() -> None:
    assert all(math.isnan(v) for v in trivial_references(0, 0).values())
    assert trivial_references(0, 50)["f1"] == 0.0


def test_references_of_an_evaluation_per_site_and_overall() -> None:
    # Prepare
    per_site = {"a": {"num_examples": 100, "positives": 10},
                "b": {"num_examples": 300, "positives": 3}}
    overall = {"num_examples": 400, "positives": 13}

    # Execute
    found = references_of(overall, per_site)

    # Assert
    assert found["overall"]["failure_rate"] == pytest.approx(13 / 400)
    assert found["per_site"]["a"]["f1"] == pytest.approx(0.2 / 1.1)
    assert found["per_site"]["b"]["pr_auc"] == pytest.approx(0.01)


def test_rul_references_score_the_training_mean_and_the_cap_as_hand_computed() -> None:
    # Prepare: site a's engines have 10 and 40 cycles left, site b's one 100; mean 50, cap 125
    targets = {"a": np.array([10.0, 40.0]), "b": np.array([100.0])}

    # Execute
    found = rul_references(targets, train_mean=50.0, cap=125.0)

    # Assert: d = predicted - true; early (d > 0 is late) per the NASA score
    site_a = found["per_site"]["a"]
    assert site_a["mean_rmse"] == pytest.approx(math.sqrt((40**2 + 10**2) / 2))
    assert site_a["mean_nasa_score"] == pytest.approx(math.expm1(4.0) + math.expm1(1.0))
    assert site_a["cap_rmse"] == pytest.approx(math.sqrt((115**2 + 85**2) / 2))
    overall = found["overall"]
    assert overall["mean_rmse"] == pytest.approx(math.sqrt((40**2 + 10**2 + 50**2) / 3))
    assert overall["mean_nasa_score"] == pytest.approx(
        math.expm1(4.0) + math.expm1(1.0) + math.expm1(50 / 13))
    assert overall["cap_nasa_score"] == pytest.approx(
        math.expm1(11.5) + math.expm1(8.5) + math.expm1(2.5))
    assert (overall["train_mean"], overall["cap"]) == (50.0, 125.0)


def test_rul_references_without_windows_are_nan() -> None:
    found = rul_references({"a": np.empty(0)}, train_mean=50.0, cap=125.0)

    assert math.isnan(found["overall"]["mean_rmse"]) and math.isnan(
        found["per_site"]["a"]["cap_nasa_score"])
