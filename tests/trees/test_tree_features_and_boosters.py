"""What a tree sees of a window, and the booster arithmetic of federated bagging."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from flwr.serverapp.strategy.strategy_utils import aggregate_bagging

from networkfed.trees.booster import (
    append_trees,
    boost,
    initial_booster,
    predict_probability,
    tree_count,
)
from networkfed.trees.features import tree_feature_names, tree_features
from networkfed.trees.params import (
    RUL_MAX_BIN,
    XGBOOST_DEFAULTS,
    booster_params,
    scale_pos_weight,
    tree_hparams,
)


def _rows(seed: int, n: int = 300, width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, width)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=n) > 1.0).astype(np.float32)
    return x, y


def _margin(model: bytes, x: np.ndarray) -> np.ndarray:
    booster = xgb.Booster(model_file=bytearray(model))
    return booster.predict(xgb.DMatrix(x), output_margin=True)


PARAMS = booster_params(XGBOOST_DEFAULTS, seed=0, pos_weight=1.0)


def test_rows_pass_through_and_windows_become_last_mean_and_slope() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(5, 1, 3)).astype(np.float32)
    windows = rng.normal(size=(4, 6, 2)).astype(np.float32)

    flat, summary = tree_features(rows), tree_features(windows)

    np.testing.assert_array_equal(flat, rows[:, 0, :])
    slopes = [[np.polyfit(np.arange(6), w[:, f], 1)[0] for f in range(2)] for w in windows]
    np.testing.assert_allclose(summary[:, :2], windows[:, -1, :])
    np.testing.assert_allclose(summary[:, 2:4], windows.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(summary[:, 4:], slopes, rtol=1e-5, atol=1e-6)
    assert tree_feature_names(["a", "b"], 6) == ["a", "b", "a_mean", "b_mean", "a_slope",
                                                 "b_slope"]


def test_the_initial_booster_has_no_tree_and_predicts_one_half() -> None:
    model = initial_booster(4, PARAMS)

    assert tree_count(model) == 0
    np.testing.assert_array_equal(predict_probability(model, _rows(0)[0][:5]), 0.5)


def test_appended_trees_add_the_sites_margins() -> None:
    # Prepare: two sites boost three trees each from the same (empty) global booster
    start = initial_booster(4, PARAMS)
    (x1, y1), (x2, y2) = _rows(1), _rows(2)
    whole1, new1, _ = boost(start, PARAMS, x1, y1, 3)
    whole2, new2, _ = boost(start, PARAMS, x2, y2, 3)

    # Execute
    merged = append_trees(append_trees(start, new1), new2)

    # Assert: every tree of both sites is kept, and the margins add up
    assert tree_count(merged) == 6
    assert xgb.Booster(model_file=bytearray(merged)).num_boosted_rounds() == 6
    x = _rows(3)[0]
    np.testing.assert_allclose(_margin(merged, x), _margin(whole1, x) + _margin(whole2, x),
                               atol=1e-5)


def test_with_one_local_round_appending_equals_flowers_bagging_aggregation() -> None:
    start = initial_booster(4, PARAMS)
    new = [boost(start, PARAMS, *_rows(seed), 1)[1] for seed in (1, 2, 3)]

    ours, flowers = start, start
    for trees in new:
        ours, flowers = append_trees(ours, trees), aggregate_bagging(flowers, trees)

    x = _rows(4)[0]
    np.testing.assert_array_equal(predict_probability(ours, x), predict_probability(flowers, x))


def test_boosting_continues_from_the_appended_model() -> None:
    start = initial_booster(4, PARAMS)
    merged = append_trees(start, boost(start, PARAMS, *_rows(1), 2)[1])

    whole, new, loss = boost(merged, PARAMS, *_rows(2), 2)

    assert (tree_count(whole), tree_count(new)) == (4, 2)
    assert 0 < loss < np.log(2)


@pytest.mark.parametrize(("weighting", "expected"), [("balanced", 9.0), ("sqrt", 3.0),
                                                      ("none", 1.0)])
def test_pos_weight_comes_from_the_summed_label_counts(weighting: str, expected: float) -> None:
    labels = [np.array([0] * 10 + [1] * 2), np.array([0] * 8)]  # 18 negatives, 2 failures

    assert scale_pos_weight(labels, weighting) == pytest.approx(expected)
    assert scale_pos_weight([np.zeros(5)], weighting) == 1.0  # no failure anywhere


def test_the_default_bins_find_a_rule_at_a_sharp_value_in_a_thin_tail() -> None:
    # Prepare: AI4I's power rule in miniature: failure above a value that 13 of 2,000 rows
    # exceed, where 256 quantile bins are about 8 rows wide and none edges on the rule
    rng = np.random.default_rng(0)
    x = np.sort(rng.normal(size=(2000, 1)).astype(np.float32), axis=0)
    y = (np.arange(2000) >= 1990 - 3).astype(np.float32)
    stump = {"max_depth": 1, "eta": 1.0, "reg_lambda": 0.0}

    def errors(max_bin: int) -> int:
        params = booster_params({**XGBOOST_DEFAULTS, **stump, "max_bin": max_bin}, seed=0,
                                pos_weight=1.0)
        model = boost(initial_booster(1, params), params, x, y, 1)[0]
        return int(np.sum((predict_probability(model, x) >= 0.5) != y))

    # Act / Assert: one split at the defaults' resolution separates the rule exactly
    assert XGBOOST_DEFAULTS["max_bin"] == 4096
    assert errors(int(XGBOOST_DEFAULTS["max_bin"])) == 0
    assert errors(256) > 0


def test_rul_keeps_xgboosts_own_bins_unless_given() -> None:
    assert tree_hparams({})["max_bin"] == 4096
    assert tree_hparams({}, rul=True)["max_bin"] == RUL_MAX_BIN == 256
    assert tree_hparams({"max_bin": "1024"}, rul=True)["max_bin"] == 1024
