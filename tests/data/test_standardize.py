"""Federated statistics from per-site sums equal the statistics of the pooled rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from networkfed.data.standardize import combine, site_statistics, standardise


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 50), min_size=1, max_size=5), seed=st.integers(0, 10_000))
def test_combined_statistics_equal_pooled(sizes: list[int], seed: int) -> None:
    # Prepare: sites with different scales and offsets
    rng = np.random.default_rng(seed)
    sites = [rng.normal(300 + 10 * i, 1 + i, size=(n, 4)) for i, n in enumerate(sizes)]
    pooled = np.concatenate(sites)
    # Execute
    stats = combine(site_statistics(rows) for rows in sites)
    # Assert
    assert stats.count == pooled.shape[0]
    np.testing.assert_allclose(stats.mean, pooled.mean(axis=0), rtol=1e-12)
    if pooled.shape[0] > 1:
        np.testing.assert_allclose(stats.std, pooled.std(axis=0), rtol=1e-6)


def test_constant_feature_is_scaled_by_one() -> None:
    stats = site_statistics(np.full((5, 2), 7.0))
    np.testing.assert_array_equal(stats.std, [1.0, 1.0])
    np.testing.assert_array_equal(
        standardise(np.full((1, 2), 7.0), stats.mean, stats.std), [[0, 0]]
    )


def test_standardised_training_rows_have_zero_mean_unit_sd() -> None:
    rows = np.random.default_rng(0).normal(5.0, 3.0, size=(200, 3))
    stats = site_statistics(rows)
    scaled = standardise(rows, stats.mean, stats.std)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1.0, atol=1e-5)
