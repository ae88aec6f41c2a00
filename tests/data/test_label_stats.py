"""Per-site feature-label correlations from sufficient statistics, and sites that disagree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from networkfed.data.label_stats import (
    label_statistics,
    opposite_signs,
    site_label_statistics,
)
from networkfed.data.types import SiteData, SplitTensors


def _site(x: np.ndarray, y: np.ndarray, name: str = "s") -> SiteData:
    split = SplitTensors(torch.tensor(x, dtype=torch.float32), torch.tensor(y),
                         np.zeros(len(y), dtype=object))
    return SiteData(name, split, split, split)


@pytest.mark.parametrize("seed", range(5))
def test_correlation_from_sums_equals_numpys_on_the_rows(seed: int) -> None:
    # Prepare: features of very different scales, one constant
    rng = np.random.default_rng(seed)
    y = (rng.random(400) < 0.1 + 0.3 * seed / 5).astype(np.int64)
    x = np.column_stack([rng.normal(300, 2, 400) + y, rng.normal(0, 1e3, 400) - 50 * y,
                         np.full(400, 7.0)])

    # Execute
    found = label_statistics(x, y).correlation

    # Assert
    for column in range(2):
        assert found[column] == pytest.approx(np.corrcoef(x[:, column], y)[0, 1], abs=1e-9)
    assert np.isnan(found[2])


def test_site_statistics_use_the_last_step_and_only_the_named_features() -> None:
    # Prepare: windows of 2 steps, 3 columns (the third a bin column)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 2, 3))
    y = rng.integers(0, 2, 50)

    # Execute
    stats = site_label_statistics(_site(x, y), num_features=2)

    # Assert
    assert stats is not None and stats.total.shape == (2,)
    assert stats.count == 50
    np.testing.assert_allclose(stats.total, x[:, -1, :2].astype(np.float32).sum(axis=0),
                               rtol=1e-5)


def test_a_summary_site_without_features_has_no_statistics() -> None:
    assert site_label_statistics(_site(np.zeros((5, 0, 0)), np.zeros(5, np.int64)), 3) is None


def test_opposite_signs_names_the_feature_and_the_sites() -> None:
    # Prepare: feature "up" rises with failure at a, falls at b; "same" rises at both
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 500)
    noise = rng.normal(size=500)
    a = label_statistics(np.column_stack([y + noise, y + noise]), y)
    b = label_statistics(np.column_stack([-y + noise, y + noise]), y)

    # Execute
    found = opposite_signs({"a": a, "b": b, "c": None}, ["up", "same"])

    # Assert
    assert [d.feature for d in found] == ["up"]
    assert list(found[0].rising) == ["a"] and list(found[0].falling) == ["b"]
    assert "'up' goes with failures at a +0." in found[0].describe()


def test_weak_correlations_are_not_a_disagreement() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    weak = [label_statistics((s * 0.05 * y + rng.normal(size=2000))[:, None], y) for s in (1, -1)]
    assert opposite_signs({"a": weak[0], "b": weak[1]}, ["x"]) == []
