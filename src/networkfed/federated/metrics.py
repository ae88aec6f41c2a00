"""Evaluation metrics for failure prediction.

Ranking metrics (ROC-AUC, PR-AUC) and the threshold search come from scikit-learn. The alarm
metrics (accuracy, balanced accuracy, precision, recall, F1) are four confusion counts and a
few divisions: they are computed here from the counts, because scikit-learn's input checks
cost ~8 ms per split, which made evaluating 1,000 sites per round take longer than training
them. ``tests/federated/test_classification_metrics.py`` checks them against
scikit-learn's functions, edge cases included.

Why accuracy alone misleads: failures are rare (about 3% of AI4I 2020 rows), so a model that
never raises an alarm is about 97% "accurate" and catches no failure at all. Balanced accuracy
(mean recall over both classes), precision / recall / F1 of the failure class and PR-AUC all
expose that model; ROC-AUC and PR-AUC judge how well failures are ranked above healthy windows
whatever the threshold. Predictions raise an alarm when ``probability >= threshold``, the same
convention as :func:`sklearn.metrics.precision_recall_curve`.

Undefined values are NaN, never a misleading 0 or 1: ROC-AUC, PR-AUC and balanced accuracy need
both classes present; everything is NaN on an empty split. Precision, recall and F1 use
``zero_division=0`` (no alarms raised means no failure caught).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from networkfed.core.errors import TrainingError

METRIC_KEYS = (
    "loss", "accuracy", "balanced_accuracy", "precision", "recall", "f1",
    "roc_auc", "pr_auc", "threshold", "num_examples", "positives",
)
RANKING_KEYS = ("roc_auc", "pr_auc")
"""Metrics of the whole ranking: averaging them over sites is not the pooled value."""
COUNT_KEYS = ("num_examples", "positives")
DEFAULT_THRESHOLD = 0.5
NAN = float("nan")

ArrayLike = Tensor | np.ndarray | Sequence[float]


def classification_metrics(
    y_true: ArrayLike, prob: ArrayLike, threshold: float, loss: float | None = None
) -> dict[str, float]:
    """All evaluation metrics of one split, keyed as ``METRIC_KEYS``.

    ``prob`` is the failure-class probability, shape ``(n,)``, or ``(n, 2)`` class
    probabilities whose second column is used. ``loss`` is passed through (NaN when absent).
    """
    y, p = _labels(y_true), _probabilities(prob)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} labels but {p.size} probabilities")
    metrics = {"loss": NAN if loss is None else float(loss)}
    metrics.update(_threshold_metrics(y, (p >= threshold).astype(np.int64)))
    metrics.update(_ranking_metrics(y, p))
    metrics.update(threshold=float(threshold), num_examples=int(y.size), positives=int(y.sum()))
    return metrics


def choose_threshold(y_true: ArrayLike, prob: ArrayLike) -> float:
    """The alarm threshold that maximises failure-class F1 on (validation) data.

    Candidates are the distinct probabilities (``precision_recall_curve``); ties go to the
    lowest threshold, i.e. more alarms, since a missed failure costs more than a false alarm.
    Without any positive example F1 is 0 everywhere, so the neutral 0.5 is returned.
    """
    from sklearn.metrics import precision_recall_curve  # imported when first needed: see below

    y, p = _labels(y_true), _probabilities(prob)
    if y.size == 0 or not y.any():
        return DEFAULT_THRESHOLD
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator),
                   where=denominator > 0)
    return float(thresholds[int(np.argmax(f1))])


def weighted_overall(
    per_site: Mapping[str, Mapping[str, Any]], pooled: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """Example-weighted mean of each metric over sites; counts are summed.

    Sites whose value is NaN/None (e.g. ROC-AUC of a site with one class) are left out of that
    metric's mean. Ranking metrics do not average (a mean of AUCs is not the AUC of the pooled
    predictions): pass ``pooled`` (see :func:`pooled_metrics`) to take them from there.
    """
    sites = list(per_site.values())
    weights = np.array([_number(site.get("num_examples")) for site in sites])
    keys = list(METRIC_KEYS) + sorted({k for site in sites for k in site} - set(METRIC_KEYS))
    overall: dict[str, float] = {}
    for key in keys:
        values = np.array([_number(site.get(key)) for site in sites])
        if key in COUNT_KEYS:
            overall[key] = int(np.nansum(values)) if values.size else 0
        else:
            overall[key] = _weighted_mean(values, weights)
    if pooled is not None:
        overall.update({key: float(pooled[key]) for key in RANKING_KEYS})
    return overall


def pooled_metrics(
    y_true_by_site: Mapping[str, ArrayLike], prob_by_site: Mapping[str, ArrayLike],
    threshold: float,
) -> dict[str, float]:
    """Metrics of all sites' predictions pooled together (loss is NaN: pass it per site)."""
    if set(y_true_by_site) != set(prob_by_site):
        raise ValueError("labels and probabilities are given for different sites")
    sites = sorted(y_true_by_site)
    y = np.concatenate([_labels(y_true_by_site[site]) for site in sites]) if sites else []
    p = np.concatenate([_probabilities(prob_by_site[site]) for site in sites]) if sites else []
    return classification_metrics(y, p, threshold)


def _threshold_metrics(y: np.ndarray, alarm: np.ndarray) -> dict[str, float]:
    """Alarm metrics from the confusion counts, as scikit-learn defines them.

    Precision, recall and F1 of the failure class with ``zero_division=0``; balanced
    accuracy (mean recall of both classes) is NaN unless both classes are present.
    """
    keys = ("accuracy", "balanced_accuracy", "precision", "recall", "f1")
    if y.size == 0:
        return dict.fromkeys(keys, NAN)
    true_neg, false_pos, false_neg, true_pos = np.bincount(
        2 * y + alarm, minlength=4).astype(np.float64)
    failures, healthy = true_pos + false_neg, true_neg + false_pos
    recall = _ratio(true_pos, failures)
    precision = _ratio(true_pos, true_pos + false_pos)
    both_classes = failures > 0 and healthy > 0
    return {
        "accuracy": (true_pos + true_neg) / y.size,
        "balanced_accuracy": (recall + true_neg / healthy) / 2 if both_classes else NAN,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * true_pos, 2 * true_pos + false_pos + false_neg),
    }


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 0 when the denominator is 0 (``zero_division=0``)."""
    return float(numerator / denominator) if denominator else 0.0


def _ranking_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    # scikit-learn is imported here, not at module level: importing it takes ~1.5 s, and a
    # Flower ClientApp process (one per message in a deployment) never ranks anything.
    from sklearn.metrics import average_precision_score, roc_auc_score

    if np.unique(y).size < 2:
        return dict.fromkeys(RANKING_KEYS, NAN)
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p))}


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """NaN-aware weighted mean; identical values come back exactly (e.g. a shared threshold)."""
    keep = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    if not keep.any():
        return NAN
    kept = values[keep]
    if np.all(kept == kept[0]):
        return float(kept[0])
    return float(np.average(kept, weights=weights[keep]))


def _number(value: Any) -> float:
    return NAN if value is None else float(value)


def _as_numpy(values: ArrayLike) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _labels(y_true: ArrayLike) -> np.ndarray:
    y = _as_numpy(y_true).reshape(-1)
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, got {sorted(set(np.unique(y).tolist()))[:5]}")
    return y.astype(np.int64)


def _probabilities(prob: ArrayLike) -> np.ndarray:
    p = _as_numpy(prob).astype(np.float64)
    if p.ndim == 2 and p.shape[1] == 2:
        p = p[:, 1]
    if p.ndim > 1:
        raise ValueError(f"probabilities must have shape (n,) or (n, 2), got {p.shape}")
    if not np.isfinite(p).all():
        bad = int((~np.isfinite(p)).sum())
        raise TrainingError(f"{bad} non-finite predicted probabilities: the model has diverged")
    return p

