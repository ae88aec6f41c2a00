"""``ModelPerformanceMonitor``: spot a federated run going wrong from its round metrics.

The rules are the design document's, applied to the last five tracked rounds of a model:

* ``accuracy_stagnation`` — over the last three rounds accuracy moved by less than 0.01;
* ``loss_explosion`` — a loss above 10 (or not finite: NaN is the end point of an explosion);
* ``parameter_instability`` — the parameter norm more than doubled since the previous round.

The monitor only reads what it is given; ``state_dict`` / ``load_state_dict`` let a resumed
run carry its history on, so the rules see the same rounds as in an uninterrupted run.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["ISSUE_TEXT", "ModelPerformanceMonitor", "describe_issue", "parameter_norm"]

WINDOW = 5
"""Rounds the rules look at."""
STAGNATION_ROUNDS, STAGNATION_RANGE = 3, 0.01
LOSS_LIMIT = 10.0
NORM_GROWTH = 2.0

ISSUE_TEXT = {
    "accuracy_stagnation": "accuracy changed by less than 0.01 over the last three rounds "
    "(training may have converged, or stalled; with few failures accuracy barely moves, so "
    "judge by F1 and PR-AUC)",
    "loss_explosion": "a loss above 10 in the last five rounds (learning rate too high or "
    "a bad site update)",
    "parameter_instability": "the global model's parameter norm more than doubled from one "
    "round to the next",
}
"""What each finding means, in the words the console and the report use."""


def describe_issue(issue: str) -> str:
    """``"name: what it means"`` for a known finding, the name alone otherwise."""
    return f"{issue}: {ISSUE_TEXT[issue]}" if issue in ISSUE_TEXT else issue


def parameter_norm(params: Mapping[str, Tensor]) -> float:
    """L2 norm over every floating-point tensor of a state (what ``parameter_norm`` means)."""
    squares = [t.detach().double().pow(2).sum() for t in params.values() if t.is_floating_point()]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


def _number(metrics: Mapping[str, Any], key: str, default: float) -> float:
    value = metrics.get(key)
    return default if value is None else float(value)


class ModelPerformanceMonitor:
    """Track each model's metrics round by round and report training issues.

    Parameters
    ----------
    model_manager
        The :class:`~networkfed.models.ModelManager` whose models are monitored (kept for
        callers that need it; the rules use only the tracked metrics).
    """

    def __init__(self, model_manager: Any) -> None:
        self.model_manager = model_manager
        self.performance_history: dict[str, list[dict[str, Any]]] = {}

    def track_round_performance(
        self, model_id: str, round_num: int, metrics: Mapping[str, Any]
    ) -> None:
        """Record a round; missing metrics take the document's defaults (loss ``inf``)."""
        self.performance_history.setdefault(model_id, []).append(
            {
                "round": round_num,
                "accuracy": _number(metrics, "accuracy", 0.0),
                "loss": _number(metrics, "loss", float("inf")),
                "convergence_rate": _number(metrics, "convergence_rate", 0.0),
                "parameter_norm": _number(metrics, "parameter_norm", 0.0),
            }
        )

    def detect_training_issues(self, model_id: str) -> dict[str, Any]:
        """``{'status': 'healthy' | 'issues_detected', 'issues': [...]}`` for the last rounds,
        or ``{'status': 'no_data'}`` if nothing was tracked for ``model_id``."""
        if model_id not in self.performance_history:
            return {"status": "no_data"}
        history = self.performance_history[model_id][-WINDOW:]
        issues = []
        if len(history) >= STAGNATION_ROUNDS:
            recent = [h["accuracy"] for h in history[-STAGNATION_ROUNDS:]]
            if max(recent) - min(recent) < STAGNATION_RANGE:
                issues.append("accuracy_stagnation")
        if any(h["loss"] > LOSS_LIMIT or math.isnan(h["loss"]) for h in history):
            issues.append("loss_explosion")
        norms = [h["parameter_norm"] for h in history]
        if len(norms) >= 2 and norms[-1] > norms[-2] * NORM_GROWTH:
            issues.append("parameter_instability")
        return {"status": "issues_detected" if issues else "healthy", "issues": issues}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue monitoring after a resume (a deep copy)."""
        return {"performance_history": copy.deepcopy(self.performance_history)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the history with one saved by :meth:`state_dict`."""
        history = state.get("performance_history")
        if not isinstance(history, Mapping):
            raise ValueError("monitor state needs a 'performance_history' mapping")
        self.performance_history = {
            str(model_id): [dict(entry) for entry in entries]
            for model_id, entries in history.items()
        }
