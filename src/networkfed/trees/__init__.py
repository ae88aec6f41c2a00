"""Federated gradient-boosted trees (``--model xgboost``): a code path of its own.

Trees are not tensors: sites send whole trees (booster JSON), not weight updates, so the
tensor strategies, FedBN / FedPer and the update attacks do not apply. This package holds the
tree features (:mod:`.features`), the booster arithmetic (:mod:`.booster`), the round loop
(:mod:`.engine`) and how a run is composed and checkpointed (:mod:`.setup`,
:mod:`.checkpoint`); :mod:`networkfed.api` and the CLI only hook into it.
"""

from __future__ import annotations

from networkfed.core.enums import ModelType

__all__ = ["TREE_STRATEGIES", "is_tree_model"]

TREE_STRATEGIES = ("xgb-bagging", "xgb-cyclic")
"""The federated tree algorithms (Flower's FedXgbBagging / FedXgbCyclic recipes)."""


def is_tree_model(model: object) -> bool:
    """Whether ``model`` names the federated XGBoost model."""
    return str(model).strip().lower() == ModelType.XGBOOST.value
