"""Evaluate a model on every site: an alarm threshold from validation data, then test metrics.

The threshold is chosen once per model on the pooled validation predictions of all sites (as
a deployment would: one alarm level for the fleet), and every site's test split is scored with
it. Overall test metrics are example-weighted over sites, with the ranking metrics (ROC-AUC,
PR-AUC) and the threshold metrics taken from the pooled predictions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from networkfed.federated.local_training import single_thread
from networkfed.federated.metrics import (
    choose_threshold,
    classification_metrics,
    pooled_metrics,
    weighted_overall,
)
from networkfed.federated.regression import regression_metrics
from networkfed.federated.training_step import inference_forward

__all__ = ["Evaluation", "SplitPredictions", "evaluate_predictions", "predict_failure"]

EVAL_BATCH_SIZE = 2048


@dataclass(frozen=True)
class SplitPredictions:
    """Labels and failure probabilities of one split of one site.

    In a RUL run (float ``y_true``: remaining life) ``probability`` holds the predicted
    remaining life in cycles (:func:`~networkfed.federated.regression.predict_rul`).
    """

    y_true: np.ndarray
    probability: np.ndarray

    def __len__(self) -> int:
        return int(self.y_true.shape[0])


@dataclass(frozen=True)
class Evaluation:
    """One model's results: the threshold, per-site and overall test metrics.

    Attributes
    ----------
    threshold
        Alarm threshold chosen on validation data (``probability >= threshold`` alarms).
    per_site, overall
        Test metrics (keys of :data:`networkfed.federated.metrics.METRIC_KEYS`).
    validation
        Overall validation metrics at the same threshold (used to pick the best round).
    predictions
        Test predictions per site (for ``predictions.csv``).
    """

    threshold: float
    per_site: dict[str, dict[str, float]]
    overall: dict[str, float]
    validation: dict[str, float]
    predictions: dict[str, SplitPredictions] = field(repr=False, default_factory=dict)


def predict_failure(model: nn.Module, x: Tensor) -> np.ndarray:
    """Failure-class probabilities ``(n,)`` in eval mode, on one thread, without gradients
    (the built-in CNN and hybrid through their rows forwards,
    :func:`~networkfed.federated.training_step.inference_forward`)."""
    was_training = model.training
    model.eval()
    forward = inference_forward(model)
    try:
        with single_thread(), torch.inference_mode():
            chunks = [
                torch.softmax(forward(x[start : start + EVAL_BATCH_SIZE]), dim=-1)[:, 1]
                for start in range(0, int(x.shape[0]), EVAL_BATCH_SIZE)
            ]
    finally:
        model.train(was_training)
    return torch.cat(chunks).double().numpy() if chunks else np.empty(0)


def evaluate_predictions(
    val: Mapping[str, SplitPredictions],
    test: Mapping[str, SplitPredictions],
    *,
    per_site_threshold: bool = False,
) -> Evaluation:
    """Choose the threshold on ``val`` and score ``test`` with it.

    With ``per_site_threshold`` each site gets its own threshold from its own validation
    data (the local-only baseline: every site alone); the overall threshold is then NaN.
    Float ``y_true`` (remaining life) is scored as regression (:func:`_evaluate_regression`).
    """
    if _is_regression(val) or _is_regression(test):
        return _evaluate_regression(val, test)
    if per_site_threshold:
        thresholds = {site: _threshold(val[site]) for site in test}
        shared = float("nan")
    else:
        shared = choose_threshold(*_pooled(val))
        thresholds = dict.fromkeys(test, shared)
    per_site = {site: _metrics(test[site], thresholds[site]) for site in test}
    overall = _overall(per_site, test, shared)
    validation = _overall({s: _metrics(val[s], thresholds[s]) for s in val}, val, shared)
    return Evaluation(shared, per_site, overall, validation, dict(test))


def _is_regression(predictions: Mapping[str, SplitPredictions]) -> bool:
    return any(np.issubdtype(p.y_true.dtype, np.floating) for p in predictions.values())


def _evaluate_regression(
    val: Mapping[str, SplitPredictions], test: Mapping[str, SplitPredictions]
) -> Evaluation:
    """RUL scores per site and over all sites' windows pooled (for C-MAPSS: every test
    engine's last window, as the literature scores a subset); no threshold (NaN)."""

    def pooled(predictions: Mapping[str, SplitPredictions]) -> dict[str, float]:
        y, p = _pooled(predictions)
        return {**regression_metrics(y, p), "threshold": float("nan")}

    per_site = {
        site: {**regression_metrics(p.y_true, p.probability), "threshold": float("nan")}
        for site, p in test.items()
    }
    return Evaluation(float("nan"), per_site, pooled(test), pooled(val), dict(test))


def _threshold(predictions: SplitPredictions) -> float:
    return choose_threshold(predictions.y_true, predictions.probability)


def _metrics(predictions: SplitPredictions, threshold: float) -> dict[str, float]:
    """Metrics of one site with the mean log-loss of its predictions."""
    return classification_metrics(
        predictions.y_true, predictions.probability, threshold, loss=_log_loss(predictions)
    )


def _overall(
    per_site: Mapping[str, Mapping[str, Any]],
    predictions: Mapping[str, SplitPredictions],
    threshold: float,
) -> dict[str, float]:
    """Example-weighted over sites; ranking and (shared-threshold) alarm metrics pooled."""
    if np.isnan(threshold):
        pooled = _pooled_with_own_alarms(per_site, predictions)
    else:
        pooled = pooled_metrics(
            {s: p.y_true for s, p in predictions.items()},
            {s: p.probability for s, p in predictions.items()},
            threshold,
        )
    overall = weighted_overall(per_site, pooled)
    keys = ("accuracy", "balanced_accuracy", "precision", "recall", "f1")
    overall.update({key: pooled[key] for key in keys})
    overall["threshold"] = float(threshold)
    return overall


def _pooled_with_own_alarms(
    per_site: Mapping[str, Mapping[str, Any]], predictions: Mapping[str, SplitPredictions]
) -> dict[str, float]:
    """Pooled metrics where each site's alarms use its own threshold (local baseline)."""
    sites = sorted(predictions)
    y = np.concatenate([predictions[s].y_true for s in sites])
    prob = np.concatenate([predictions[s].probability for s in sites])
    alarms = np.concatenate(
        [predictions[s].probability >= per_site[s]["threshold"] for s in sites]
    )
    # Scoring the alarms themselves (0/1) at 0.5 reproduces each site's own decisions.
    pooled = classification_metrics(y, alarms.astype(np.float64), 0.5)
    ranking = classification_metrics(y, prob, 0.5)
    pooled.update(roc_auc=ranking["roc_auc"], pr_auc=ranking["pr_auc"])
    return pooled


def _pooled(predictions: Mapping[str, SplitPredictions]) -> tuple[np.ndarray, np.ndarray]:
    sites = sorted(predictions)
    y = np.concatenate([predictions[s].y_true for s in sites]) if sites else np.empty(0)
    p = np.concatenate([predictions[s].probability for s in sites]) if sites else np.empty(0)
    return y, p


def _log_loss(predictions: SplitPredictions) -> float:
    """Mean binary cross-entropy (unweighted), the loss every report compares."""
    if len(predictions) == 0:
        return float("nan")
    p = np.clip(predictions.probability, 1e-7, 1 - 1e-7)
    y = predictions.y_true
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
