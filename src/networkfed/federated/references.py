"""The trivial references: what a model that knows nothing scores on the same test labels.

A failure predictor is only worth something if it beats these, and on rare failures they are
not zero: with a failure rate ``p``,

* raising an alarm on every window catches every failure at precision ``p``, so its F1 is
  ``2p / (1 + p)`` (the *always-alarm F1*);
* a constant (or random) score ranks failures no better than chance: its PR-AUC (average
  precision) is ``p`` and its ROC-AUC is 0.5.

They depend only on the labels' counts, so they are computed from the ``num_examples`` and
``positives`` every evaluation already carries, per site and overall.

A remaining-life (RUL) run has no classes: its references are the two constants a planner
could use without any model, scored like the model (RMSE and NASA score on the same test
windows): the *training mean* (the fleet's mean capped remaining life over every site's
training windows; a site shares only its count and sum) and the *cap* (assume every engine is
healthy). A RUL model is only worth something well below both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from networkfed.federated.regression import regression_metrics

__all__ = ["REFERENCE_KEYS", "RUL_REFERENCE_KEYS", "references_of", "rul_references",
           "trivial_references"]

REFERENCE_KEYS = ("failure_rate", "f1", "pr_auc", "roc_auc")
"""``f1`` is the always-alarm F1; ``pr_auc`` equals ``failure_rate``; ``roc_auc`` is 0.5."""
CHANCE_ROC_AUC = 0.5
RUL_REFERENCE_KEYS = ("train_mean", "mean_rmse", "mean_nasa_score", "cap", "cap_rmse",
                      "cap_nasa_score")
"""A RUL run's references: each constant and its RMSE and NASA score on the test windows."""


def trivial_references(positives: Any, num_examples: Any) -> dict[str, float]:
    """The references of ``positives`` failures among ``num_examples`` test windows (all NaN
    without windows; F1 0 and PR-AUC 0 without failures, as the metrics themselves score)."""
    n = _number(num_examples)
    if not n > 0:
        return dict.fromkeys(REFERENCE_KEYS, math.nan)
    rate = _number(positives) / n
    return {"failure_rate": rate, "f1": 2 * rate / (1 + rate), "pr_auc": rate,
            "roc_auc": CHANCE_ROC_AUC}


def references_of(
    overall: Mapping[str, Any], per_site: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """``{"overall": {...}, "per_site": {site: {...}}}`` from an evaluation's test metrics."""
    return {
        "overall": trivial_references(overall.get("positives"), overall.get("num_examples")),
        "per_site": {
            site: trivial_references(m.get("positives"), m.get("num_examples"))
            for site, m in per_site.items()
        },
    }


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def constant_scores(true: Any, train_mean: float, cap: float) -> dict[str, float]:
    """The RMSE and NASA score of predicting ``train_mean``, and of predicting ``cap``, for
    every window of ``true`` (remaining life; NaN scores without windows)."""
    y = np.asarray(true, dtype=np.float64).reshape(-1)
    mean = regression_metrics(y, np.full(y.shape, train_mean))
    capped = regression_metrics(y, np.full(y.shape, cap))
    return {"train_mean": float(train_mean), "mean_rmse": mean["rmse"],
            "mean_nasa_score": mean["nasa_score"], "cap": float(cap),
            "cap_rmse": capped["rmse"], "cap_nasa_score": capped["nasa_score"]}


def rul_references(
    test_targets: Mapping[str, Any], train_mean: float, cap: float
) -> dict[str, Any]:
    """``{"overall": {...}, "per_site": {site: {...}}}`` of a RUL run from every site's test
    targets (overall: all sites' windows pooled, as the run's own overall scores)."""
    pooled = [np.asarray(t, dtype=np.float64).reshape(-1) for t in test_targets.values()]
    every = np.concatenate(pooled) if pooled else np.empty(0)
    return {
        "overall": constant_scores(every, train_mean, cap),
        "per_site": {site: constant_scores(t, train_mean, cap)
                     for site, t in test_targets.items()},
    }
