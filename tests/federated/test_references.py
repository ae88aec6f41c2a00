"""The trivial references against hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from networkfed.federated.metrics import classification_metrics
from networkfed.federated.references import references_of, trivial_references


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
