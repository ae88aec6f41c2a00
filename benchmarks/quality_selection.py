"""The one rule that makes every choice of the quality benchmark, on validation metrics only.

A *candidate* is a configuration (settings, strategy, model) with one validation-metric
dict per tuning seed. :func:`choose` ranks candidates by the mean of one validation metric
over the seeds (direction given), ties broken by a second metric, then by declaration
order, so the same records always give the same choice. Test metrics never enter: the
records passed here hold validation metrics only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LOWER_IS_BETTER", "Rule", "choose", "mean_metric", "ranked"]

LOWER_IS_BETTER = frozenset({"rmse", "mae", "nasa_score", "loss"})
"""Metrics where smaller is better (errors of a remaining-life prediction): targets and
gaps read them the other way round."""


@dataclass(frozen=True)
class Rule:
    """Which validation metric decides and in which direction.

    The default is the failure class's F1 at the validation-chosen alarm threshold (what an
    operator lives with), higher is better; ties go to the higher validation PR-AUC (ranking
    of rare failures without a threshold). The remaining-life scenarios use
    ``Rule("rmse", maximize=False, tie_break="mae", tie_maximize=False)``.
    """

    metric: str = "f1"
    maximize: bool = True
    tie_break: str = "pr_auc"
    tie_maximize: bool = True

    def describe(self) -> str:
        def way(maximize: bool) -> str:
            return "highest" if maximize else "lowest"

        return (f"{way(self.maximize)} mean validation {self.metric} over the tuning seeds; "
                f"ties: {way(self.tie_maximize)} mean validation {self.tie_break}, then the "
                "first declared candidate")


def mean_metric(per_seed: Sequence[Mapping[str, Any]], metric: str) -> float:
    """Mean of ``metric`` over seeds; NaN when any seed lacks a finite value (a candidate
    that failed on one seed must not win on the others)."""
    values = [seed.get(metric) for seed in per_seed]
    if not values or any(v is None or not math.isfinite(float(v)) for v in values):
        return math.nan
    return float(np.mean([float(v) for v in values]))


def _key(per_seed: Sequence[Mapping[str, Any]], rule: Rule) -> tuple[float, float]:
    """Sort key, smaller is better; an undefined mean ranks last."""
    def signed(metric: str, maximize: bool) -> float:
        value = mean_metric(per_seed, metric)
        return math.inf if math.isnan(value) else (-value if maximize else value)

    return signed(rule.metric, rule.maximize), signed(rule.tie_break, rule.tie_maximize)


def ranked(candidates: Mapping[str, Sequence[Mapping[str, Any]]], rule: Rule) -> list[str]:
    """Candidate names best first (stable: equal keys keep declaration order)."""
    return sorted(candidates, key=lambda name: _key(candidates[name], rule))


def choose(candidates: Mapping[str, Sequence[Mapping[str, Any]]], rule: Rule) -> str:
    """The best candidate by ``rule``; ``ValueError`` when there is none or none scored."""
    if not candidates:
        raise ValueError("no candidates to choose from")
    best = ranked(candidates, rule)[0]
    if math.isinf(_key(candidates[best], rule)[0]):
        raise ValueError(f"no candidate has a finite mean validation {rule.metric}: "
                         f"{', '.join(candidates)}")
    return best
