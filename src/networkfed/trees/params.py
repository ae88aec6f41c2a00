"""XGBoost's tuned defaults and the booster parameters of a run.

The defaults were chosen on AI4I 2020 *validation* data by one rule, the highest validation
PR-AUC averaged over seeds 0-2 (product-type sites, 10 rounds of xgb-bagging), among 108
settings: max_depth 4/6/8 x eta 0.1/0.3 x min_child_weight 1/5 x class weighting
balanced/sqrt/none x 1/3/5 local boosting rounds (docs/user-guide/models.md); test data never
picked them. ``max_bin`` was measured afterwards (``benchmarks/xgb_levers.py``, same seeds and
sites, validation only): the failure rules sit at sharp values in the thin tails of their
features (power near 3,500 / 9,000 W, temperature difference 8.6 K), where XGBoost's default
256 quantile bins are tens of rows wide, so trees split in the right bin but at the wrong
value; 4096 bins (about one per distinct value of a site's rows) raised the federated
validation F1 from 0.838 to 0.865 and PR-AUC from 0.840 to 0.874 (centralized 0.839 -> 0.885),
and 16384 gave no more. Every random thing in XGBoost (row
subsampling) takes a seed derived from the run's, and each site boosts on one thread with the
histogram method, so the same seed gives the same trees on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from networkfed.core.errors import ConfigError

__all__ = ["REGRESSION_OBJECTIVE", "XGBOOST_DEFAULTS", "booster_params", "scale_pos_weight",
           "tree_hparams"]

XGBOOST_DEFAULTS: Mapping[str, float | int] = {
    "max_depth": 6,
    "eta": 0.1,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 1.0,
    "max_bin": 4096,
}
"""Tuned tree settings (``max_bin``: histogram bins per feature, see the module docstring);
boosting rounds per site and round are ``local_epochs`` (xgboost's default:
:data:`TREE_LOCAL_ROUNDS`)."""

TREE_LOCAL_ROUNDS = 5
"""Boosting rounds per site and round when ``local_epochs`` is not given."""

REGRESSION_OBJECTIVE = "reg:squarederror"
"""The objective of a RUL run (``task = "rul"``): squared error on the capped remaining life
in cycles, what RMSE scores."""

_INTEGER = frozenset({"max_depth", "max_bin"})


RUL_MAX_BIN = 256
"""``max_bin`` of a RUL run when none is given: XGBoost's own. 4096 bins were measured for
failure classification only; on C-MAPSS windows they changed no validation F1 and made a run
about 4x slower, so remaining-life regression keeps the bins it was built with."""


def tree_hparams(overrides: Mapping[str, Any], *, rul: bool = False) -> dict[str, float | int]:
    """The defaults (``rul``: with :data:`RUL_MAX_BIN`) with ``overrides``
    (``RunConfig.hparams``) on top, checked by name."""
    unknown = sorted(set(overrides) - set(XGBOOST_DEFAULTS))
    if unknown:
        valid = ", ".join(sorted(XGBOOST_DEFAULTS))
        raise ConfigError("hparams", unknown[0], f"an xgboost setting: one of {valid}")
    merged: dict[str, float | int] = dict(XGBOOST_DEFAULTS)
    if rul:
        merged["max_bin"] = RUL_MAX_BIN
    for key, value in overrides.items():
        try:
            merged[key] = int(value) if key in _INTEGER else float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"hparams.{key}", value, "a number") from None
    return merged


def scale_pos_weight(labels: list[np.ndarray], weighting: str) -> float:
    """Weight of a failure against a non-failure, from the label counts summed over sites.

    Same meaning as the networks' ``class_weighting``: ``balanced`` makes both classes weigh
    the same in total (negatives / positives), ``sqrt`` its square root, ``none`` 1. Sites only
    share their counts, never rows; with no failure anywhere it is 1.
    """
    positives = sum(int(np.sum(y == 1)) for y in labels)
    negatives = sum(int(np.sum(y == 0)) for y in labels)
    if positives == 0 or negatives == 0 or weighting == "none":
        return 1.0
    ratio = negatives / positives
    return math.sqrt(ratio) if weighting == "sqrt" else ratio


def booster_params(
    hparams: Mapping[str, float | int],
    *,
    seed: int,
    pos_weight: float,
    eta_scale: float = 1.0,
    rul_cap: float | None = None,
) -> dict[str, Any]:
    """XGBoost's parameters for one site's boosting (``eta_scale``: bagging's 1 / sites).

    ``base_score`` is fixed so every site starts from the same margin (XGBoost >= 2 would
    otherwise estimate it from each site's own labels, and appended trees would then sit on
    top of one site's intercept): 0.5 for failure probabilities; with ``rul_cap`` (a RUL run,
    :data:`REGRESSION_OBJECTIVE` on remaining life in cycles) half the cap, the middle of
    every possible target, known to every site without looking at any label.
    """
    task: dict[str, Any] = (
        {"objective": "binary:logistic", "eval_metric": "logloss", "base_score": 0.5,
         "scale_pos_weight": float(pos_weight)}
        if rul_cap is None else
        {"objective": REGRESSION_OBJECTIVE, "eval_metric": "rmse",
         "base_score": float(rul_cap) / 2.0}
    )
    return {
        **task,
        "tree_method": "hist",
        "nthread": 1,
        "seed": int(seed) % (2**31),
        "max_depth": int(hparams["max_depth"]),
        "eta": float(hparams["eta"]) * eta_scale,
        "min_child_weight": float(hparams["min_child_weight"]),
        "subsample": float(hparams["subsample"]),
        "colsample_bytree": float(hparams["colsample_bytree"]),
        "reg_lambda": float(hparams["reg_lambda"]),
        "max_bin": int(hparams["max_bin"]),
    }


def describe_xgboost() -> dict[str, Any]:
    """The ``networkfed models`` entry of xgboost (a booster has no fixed parameter count:
    bagging adds sites x local rounds trees a round)."""
    return {
        "model": "xgboost",
        "class": "xgboost.Booster",
        "parameters": None,
        "sequence_length": 1,
        "default_config": {"objective": "binary:logistic", "tree_method": "hist",
                           "nthread": 1, "base_score": 0.5, **XGBOOST_DEFAULTS},
        "training_config": {
            "strategy": "xgb-bagging (or xgb-cyclic)",
            "local_boosting_rounds": f"local_epochs (default {TREE_LOCAL_ROUNDS})",
            "class_weighting": "none (scale_pos_weight 1)",
            "scale_pos_weight": "from label counts summed over sites, if class_weighting is set",
            "bagging_eta": "eta / number of sites",
            "rul": f"{REGRESSION_OBJECTIVE} on remaining life in cycles, base_score rul_cap / 2",
        },
    }
