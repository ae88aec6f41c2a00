"""Partitions are pure, seeded functions that put every item at exactly one site."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networkfed.core.errors import ConfigError
from networkfed.data.partition import (
    dirichlet_partition,
    iid_partition,
    natural_partition,
    quantity_skew_partition,
)

label_arrays = st.lists(st.integers(0, 1), min_size=12, max_size=200).map(np.array)


@settings(max_examples=40, deadline=None)
@given(labels=label_arrays, num_sites=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_every_scheme_covers_every_item_once(labels: np.ndarray, num_sites: int, seed: int) -> None:
    # Execute
    results = [
        iid_partition(labels.size, num_sites, seed),
        dirichlet_partition(labels, num_sites, 1.0, seed),
        quantity_skew_partition(labels.size, num_sites, 1.0, seed),
    ]
    # Assert: one site index in range per item, and every site non-empty
    for sites in results:
        assert sites.shape == labels.shape
        assert sites.min() >= 0 and sites.max() < num_sites
        assert np.bincount(sites, minlength=num_sites).min() >= 1


@settings(max_examples=20, deadline=None)
@given(labels=label_arrays, seed=st.integers(0, 2**31))
def test_same_seed_same_partition(labels: np.ndarray, seed: int) -> None:
    first = dirichlet_partition(labels, 3, 0.5, seed, min_size=1) if labels.size >= 3 else None
    again = dirichlet_partition(labels, 3, 0.5, seed, min_size=1) if labels.size >= 3 else None
    if first is not None:
        np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(
        quantity_skew_partition(labels.size, 3, 0.5, seed),
        quantity_skew_partition(labels.size, 3, 0.5, seed),
    )


def test_iid_sizes_differ_by_at_most_one() -> None:
    sizes = np.bincount(iid_partition(103, 4, seed=0))
    assert sizes.max() - sizes.min() <= 1


def test_small_alpha_skews_failure_share_more_than_large_alpha() -> None:
    # Prepare
    labels = np.r_[np.zeros(900, int), np.ones(100, int)]

    def spread(alpha: float) -> float:
        shares = []
        for seed in range(10):
            sites = dirichlet_partition(labels, 4, alpha, seed)
            rates = [labels[sites == s].mean() for s in range(4)]
            shares.append(np.std(rates))
        return float(np.mean(shares))

    # Execute / Assert
    assert spread(0.1) > 3 * spread(100.0)


def test_quantity_skew_with_small_alpha_gives_unequal_sizes() -> None:
    sizes = np.bincount(quantity_skew_partition(1000, 4, 0.2, seed=3), minlength=4)
    assert sizes.sum() == 1000
    assert sizes.max() > 2 * sizes.min()


def test_natural_partition_keeps_order_of_appearance() -> None:
    codes, names = natural_partition(np.array(["b", "a", "b", "c"], dtype=object))
    assert names == ["b", "a", "c"]
    assert codes.tolist() == [0, 1, 0, 2]


def test_more_sites_than_items_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="num_sites"):
        iid_partition(2, 5, seed=0)
