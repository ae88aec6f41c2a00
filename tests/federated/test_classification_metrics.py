"""Evaluation metrics and threshold choice against values worked out by hand and against
scikit-learn's definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from networkfed.core.errors import TrainingError
from networkfed.federated.metrics import (
    METRIC_KEYS,
    choose_threshold,
    classification_metrics,
    pooled_metrics,
    weighted_overall,
)

# Six windows, two failures. At threshold 0.5 the alarms are [0, 0, 0, 1, 1, 0]:
# TP 1 (0.6), FP 1 (0.7), FN 1 (0.4), TN 3.
Y = [0, 0, 0, 0, 1, 1]
PROB = [0.1, 0.2, 0.3, 0.7, 0.6, 0.4]


def test_metrics_match_hand_computation() -> None:
    # Execute
    metrics = classification_metrics(Y, PROB, threshold=0.5, loss=0.42)
    # Assert
    assert list(metrics) == list(METRIC_KEYS)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["balanced_accuracy"] == pytest.approx((1 / 2 + 3 / 4) / 2)  # recalls 1/2, 3/4
    assert metrics["precision"] == pytest.approx(1 / 2)
    assert metrics["recall"] == pytest.approx(1 / 2)
    assert metrics["f1"] == pytest.approx(1 / 2)
    # ROC-AUC: 0.6 and 0.4 each beat 3 of the 4 negatives -> 6/8
    assert metrics["roc_auc"] == pytest.approx(6 / 8)
    # AP, ranked 0.7(-), 0.6(+), 0.4(+): recall steps 1/2 at precision 1/2, 1/2 at 2/3
    assert metrics["pr_auc"] == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert metrics["loss"] == 0.42
    assert (metrics["threshold"], metrics["num_examples"], metrics["positives"]) == (0.5, 6, 2)


def test_accuracy_alone_misleads_on_rare_failures() -> None:
    # Prepare: 1 failure in 20 windows, a model that never raises an alarm
    y = [0] * 19 + [1]
    # Execute
    metrics = classification_metrics(y, [0.01] * 20, threshold=0.5)
    # Assert
    assert metrics["accuracy"] == pytest.approx(0.95)
    assert metrics["balanced_accuracy"] == pytest.approx(0.5)
    assert metrics["recall"] == 0.0 and metrics["f1"] == 0.0


def test_tensors_and_two_column_probabilities_are_accepted() -> None:
    # Prepare
    two_columns = torch.tensor([[1 - p, p] for p in PROB])
    # Execute
    from_tensors = classification_metrics(torch.tensor(Y), two_columns, threshold=0.5)
    # Assert
    expected = classification_metrics(Y, PROB, threshold=0.5)
    assert from_tensors == pytest.approx(expected, nan_ok=True)


def test_one_class_makes_ranking_metrics_nan() -> None:
    # Execute
    metrics = classification_metrics([0, 0, 0], [0.2, 0.7, 0.1], threshold=0.5)
    # Assert
    assert math.isnan(metrics["roc_auc"]) and math.isnan(metrics["pr_auc"])
    assert math.isnan(metrics["balanced_accuracy"]) and math.isnan(metrics["loss"])
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["precision"] == 0.0 and metrics["positives"] == 0


def test_empty_split_is_all_nan() -> None:
    metrics = classification_metrics([], [], threshold=0.5)
    assert metrics["num_examples"] == 0
    assert all(math.isnan(metrics[key]) for key in ("accuracy", "f1", "roc_auc", "pr_auc"))


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(TrainingError, match="1 non-finite predicted probabilities"):
        classification_metrics([0, 1], [0.2, math.nan], threshold=0.5)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        classification_metrics([0, 2], [0.2, 0.3], threshold=0.5)
    with pytest.raises(ValueError, match="2 labels but 3 probabilities"):
        classification_metrics([0, 1], [0.2, 0.3, 0.4], threshold=0.5)


def test_choose_threshold_maximises_failure_f1() -> None:
    # Prepare, F1 for alarms at prob >= t: t=0.1 1/2, 0.2 4/7, 0.3 2/3, 0.4 4/5, 0.6 1/2, 0.7 0
    # Execute
    threshold = choose_threshold(Y, PROB)
    # Assert
    assert threshold == pytest.approx(0.4)
    assert classification_metrics(Y, PROB, threshold)["f1"] == pytest.approx(4 / 5)


def test_choose_threshold_breaks_ties_towards_more_alarms() -> None:
    # Prepare: t=0.2 -> TP 2 FP 2 (F1 2/3); t=0.6 -> TP 1 FP 0 (F1 2/3); 0.3, 0.4 lower
    y, prob = [1, 0, 0, 1], [0.2, 0.3, 0.4, 0.6]
    # Execute / Assert
    assert choose_threshold(y, prob) == pytest.approx(0.2)


def test_choose_threshold_without_failures_falls_back_to_half() -> None:
    assert choose_threshold([0, 0, 0], [0.9, 0.1, 0.4]) == 0.5
    assert choose_threshold([], []) == 0.5


def test_weighted_overall_weights_by_examples_and_skips_nan() -> None:
    # Prepare
    per_site = {
        "a": {"num_examples": 10, "positives": 1, "accuracy": 0.9, "roc_auc": math.nan,
              "threshold": 0.3, "loss": None},
        "b": {"num_examples": 30, "positives": 3, "accuracy": 0.5, "roc_auc": 0.8,
              "threshold": 0.3, "loss": 0.2},
    }
    # Execute
    overall = weighted_overall(per_site)
    # Assert
    assert overall["accuracy"] == pytest.approx((10 * 0.9 + 30 * 0.5) / 40)
    assert overall["roc_auc"] == 0.8 and overall["loss"] == 0.2
    assert overall["threshold"] == 0.3
    assert (overall["num_examples"], overall["positives"]) == (40, 4)
    assert math.isnan(overall["f1"])


def test_pooled_ranking_differs_from_the_mean_of_site_aucs() -> None:
    # Prepare: each site ranks perfectly (AUC 1) but their scales differ;
    # pooled, positives 0.2 and 0.9 beat 3 of the 4 (negative, positive) pairs -> 3/4
    y_by_site = {"a": [0, 1], "b": np.array([0, 1])}
    prob_by_site = {"a": [0.1, 0.2], "b": torch.tensor([0.8, 0.9])}
    per_site = {s: classification_metrics(y_by_site[s], prob_by_site[s], 0.5) for s in "ab"}
    # Execute
    pooled = pooled_metrics(y_by_site, prob_by_site, threshold=0.5)
    overall = weighted_overall(per_site, pooled=pooled)
    # Assert
    assert weighted_overall(per_site)["roc_auc"] == 1.0
    assert pooled["roc_auc"] == pytest.approx(3 / 4)
    assert overall["roc_auc"] == pooled["roc_auc"] and overall["pr_auc"] == pooled["pr_auc"]
    assert pooled["num_examples"] == 4 and pooled["accuracy"] == pytest.approx(2 / 4)


@pytest.mark.parametrize(
    ("y", "prob"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]),  # no alarm at 0.5
        ([0, 0, 1, 1], [0.6, 0.7, 0.8, 0.9]),  # every window alarms
        ([1, 1, 1], [0.2, 0.7, 0.9]),  # failures only
        ([0, 0, 0], [0.2, 0.7, 0.1]),  # healthy only
        ([0], [0.9]),  # one false alarm
    ],
)
def test_alarm_metrics_equal_scikit_learn_on_edge_cases(y: list[int], prob: list[float]) -> None:
    _assert_alarm_metrics_equal_scikit_learn(np.array(y), np.array(prob), threshold=0.5)


@settings(max_examples=100)  # hypothesis's default, kept under the project's `ci` profile
@given(
    labels=st.lists(st.integers(0, 1), min_size=1, max_size=60),
    seed=st.integers(0, 2**32 - 1),
    threshold=st.floats(0.0, 1.0),
)
def test_alarm_metrics_equal_scikit_learn(labels: list[int], seed: int, threshold: float) -> None:
    # Prepare: the counting in networkfed must agree with scikit-learn's definitions
    prob = np.random.default_rng(seed).random(len(labels))
    # Execute / Assert
    _assert_alarm_metrics_equal_scikit_learn(np.array(labels), prob, threshold)


def _assert_alarm_metrics_equal_scikit_learn(
    y: np.ndarray, prob: np.ndarray, threshold: float
) -> None:
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        precision_score,
        recall_score,
    )

    alarm = (prob >= threshold).astype(int)
    options = {"pos_label": 1, "zero_division": 0}
    expected = {
        "accuracy": accuracy_score(y, alarm),
        "balanced_accuracy": (balanced_accuracy_score(y, alarm)
                              if np.unique(y).size == 2 else math.nan),
        "precision": precision_score(y, alarm, **options),
        "recall": recall_score(y, alarm, **options),
        "f1": f1_score(y, alarm, **options),
    }
    metrics = classification_metrics(y, prob, threshold)
    assert {key: metrics[key] for key in expected} == pytest.approx(expected, nan_ok=True)
