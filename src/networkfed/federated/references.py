"""The trivial references: what a model that knows nothing scores on the same test labels.

A failure predictor is only worth something if it beats these, and on rare failures they are
not zero: with a failure rate ``p``,

* raising an alarm on every window catches every failure at precision ``p``, so its F1 is
  ``2p / (1 + p)`` (the *always-alarm F1*);
* a constant (or random) score ranks failures no better than chance: its PR-AUC (average
  precision) is ``p`` and its ROC-AUC is 0.5.

They depend only on the labels' counts, so they are computed from the ``num_examples`` and
``positives`` every evaluation already carries, per site and overall.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["REFERENCE_KEYS", "references_of", "trivial_references"]

REFERENCE_KEYS = ("failure_rate", "f1", "pr_auc", "roc_auc")
"""``f1`` is the always-alarm F1; ``pr_auc`` equals ``failure_rate``; ``roc_auc`` is 0.5."""
CHANCE_ROC_AUC = 0.5


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
