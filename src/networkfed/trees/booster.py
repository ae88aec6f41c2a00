"""Boosters as JSON bytes: create, boost locally, append (bagging), predict, measure.

The model travels as the booster's JSON (``save_raw("json")``), as Flower's FedXgbBagging
and FedXgbCyclic expect (UBJSON would not do: their aggregation calls ``json.loads``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from networkfed.core.errors import ConfigError

__all__ = [
    "append_trees",
    "boost",
    "initial_booster",
    "load_booster",
    "predict_probability",
    "tree_count",
]


def xgb() -> Any:
    """The ``xgboost`` module, or a clear error naming the extra to install."""
    try:
        import xgboost
    except ImportError as error:
        raise ConfigError("model", "xgboost", "a model whose library is installed: pip install "
                          f"'networkfed[xgboost]' ({error})") from None
    return xgboost


def load_booster(model: bytes, params: dict[str, Any] | None = None) -> Any:
    """An ``xgboost.Booster`` from JSON bytes (``params`` set after loading)."""
    return xgb().Booster(params=params, model_file=bytearray(model))


def initial_booster(num_features: int, params: dict[str, Any]) -> bytes:
    """A booster with no tree: every prediction is ``base_score`` (round 0's model)."""
    lib = xgb()
    empty = lib.DMatrix(np.zeros((1, num_features), np.float32), label=np.zeros(1), nthread=1)
    return bytes(lib.train(params, empty, num_boost_round=0).save_raw("json"))


def boost(
    model: bytes | Any, params: dict[str, Any], x: np.ndarray, y: np.ndarray, rounds: int
) -> tuple[bytes, bytes, float]:
    """Add ``rounds`` trees to ``model`` (JSON bytes, or a loaded booster, which is copied
    and left as it is) on ``(x, y)``.

    Returns the whole new booster, only the new trees (what a bagging site sends) and the
    training loss of the whole booster on these rows after boosting: the mean log-loss, or
    the mean squared error (cycles squared) under a regression objective (a RUL run).
    """
    lib = xgb()
    data = lib.DMatrix(x, label=y, nthread=1)
    if isinstance(model, bytes):
        booster = load_booster(model, params)
    else:  # a binary copy: far cheaper than parsing a large booster's JSON again per site
        booster = model.copy()
        booster.set_param(params)
    start = booster.num_boosted_rounds()
    for iteration in range(start, start + rounds):
        booster.update(data, iteration)
    end = booster.num_boosted_rounds()
    new = booster[start:end] if end > start else booster[0:0]
    loss = _train_loss(params, y, booster.predict(data)) if len(y) else float("nan")
    return bytes(booster.save_raw("json")), bytes(new.save_raw("json")), loss


def append_trees(model: bytes, *new: bytes) -> bytes:
    """``model`` with every tree of each of ``new`` appended (in order), one boosting
    iteration per tree; the large global booster is parsed and written once per round.

    Flower's ``aggregate_bagging`` appends ``num_parallel_tree`` trees per site (one), which
    drops all but the first tree of a site that boosted several local rounds; this appends
    all of them (with one local round it gives the same bytes' model as Flower's).
    """
    base = json.loads(model)
    target = base["learner"]["gradient_booster"]["model"]
    count = int(target["gbtree_model_param"]["num_trees"])
    for trees in new:
        for tree in json.loads(trees)["learner"]["gradient_booster"]["model"]["trees"]:
            tree["id"] = count
            target["trees"].append(tree)
            target["tree_info"].append(0)
            target["iteration_indptr"].append(target["iteration_indptr"][-1] + 1)
            count += 1
    target["gbtree_model_param"]["num_trees"] = str(count)
    return json.dumps(base).encode("utf-8")


def predict_probability(model: bytes | Any, x: np.ndarray) -> np.ndarray:
    """Failure probabilities ``(n,)`` as ``float64`` (remaining life in cycles for a RUL
    booster), on one thread; ``model`` is JSON bytes or a loaded booster (parsing a large
    booster's JSON once per evaluation, not per split)."""
    if len(x) == 0:
        return np.empty(0)
    lib = xgb()
    booster = load_booster(model, {"nthread": 1}) if isinstance(model, bytes) else model
    return booster.predict(lib.DMatrix(x, nthread=1)).astype(np.float64)


def tree_count(model: bytes) -> int:
    """Trees in a booster's JSON."""
    parsed = json.loads(model)
    return int(parsed["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"])


def _train_loss(params: dict[str, Any], y: np.ndarray, p: np.ndarray) -> float:
    if str(params.get("objective", "")).startswith("reg:"):
        return float(np.mean((p.astype(np.float64) - y) ** 2))
    return _log_loss(y, p)


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
