"""Bin columns (``feature_bins``) and feature subsets (``features``) of the data layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from networkfed.core.errors import ConfigError
from networkfed.data import DataConfig, PreprocessingSpec, load_federated_data
from networkfed.data.bins import (
    GRID_STEP,
    class_histograms,
    encode_bins,
    encoded_width,
    fit_bin_edges,
)

SMALL = DataConfig(rows_per_site=400)
SEED = 3


def threshold_rows(n: int = 6000, cut: float = 0.37, seed: int = 0):
    """One informative feature (failure above ``cut``) and one of pure noise."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 2))
    labels = (values[:, 0] > cut).astype(np.int64)
    return values, labels


def test_the_edge_lands_on_the_labels_threshold():
    # Prepare
    values, labels = threshold_rows()
    # Execute
    edges = fit_bin_edges(class_histograms(values, labels), max_bins=2, min_rows=50)
    # Assert: one split, within one grid cell of 0.37; the noise feature is split too but
    # nowhere near it matters, so only check the informative one
    low, split, high = edges[0]
    assert abs(split - 0.37) <= GRID_STEP
    assert low <= values[:, 0].min() and high >= values[:, 0].max()


def test_summed_site_histograms_give_the_pooled_edges():
    # Prepare
    values, labels = threshold_rows(seed=1)
    labels = np.where(np.random.default_rng(2).random(labels.size) < 0.1, 1 - labels, labels)
    site = np.random.default_rng(3).integers(0, 3, labels.size)
    # Execute
    summed = sum(class_histograms(values[site == s], labels[site == s]) for s in range(3))
    # Assert
    np.testing.assert_array_equal(summed, class_histograms(values, labels))
    assert fit_bin_edges(summed, 4, 50) == fit_bin_edges(class_histograms(values, labels), 4, 50)


def test_bins_hold_at_least_min_rows_and_a_feature_too_small_to_split_gets_none():
    # Prepare
    values, labels = threshold_rows(n=300)
    # Execute
    edges = fit_bin_edges(class_histograms(values, labels), max_bins=4, min_rows=200)
    # Assert: no split leaves 200 rows on both sides of 300
    assert edges == [[], []]
    assert encoded_width(edges) == 0


def test_ramps_computed_by_hand():
    # Prepare: feature 0 has bins [0, 1] and [1, 3]; feature 1 has none
    values = np.array([[2.0, 5.0], [-1.0, 0.0], [0.5, 1.0], [4.0, 2.0]])
    edges = [[0.0, 1.0, 3.0], []]
    # Execute
    encoded = encode_bins(values, edges)
    # Assert: raw columns first, then clip((x - lo) / (hi - lo), 0, 1) per bin
    expected = np.array([
        [2.0, 5.0, 1.0, 0.5],
        [-1.0, 0.0, 0.0, 0.0],
        [0.5, 1.0, 0.5, 0.0],
        [4.0, 2.0, 1.0, 1.0],
    ], dtype=np.float32)
    np.testing.assert_array_equal(encoded, expected)
    assert encoded.dtype == np.float32 and encoded_width(edges) == 2


def test_fewer_than_two_bins_and_repeated_features_are_refused():
    with pytest.raises(ValidationError, match="feature_bins"):
        DataConfig(feature_bins=1)
    with pytest.raises(ValidationError, match="each once"):
        DataConfig(features=("torque_nm", "torque_nm"))
    with pytest.raises(ValueError, match="at least 2"):
        fit_bin_edges(np.zeros((1, 2, 10)), 1, 1)


def test_loaded_data_carries_the_bin_columns_after_the_standardised_features():
    # Prepare
    plain = load_federated_data(SMALL, SEED)
    # Execute
    binned = load_federated_data(SMALL.model_copy(update={"feature_bins": 3}), SEED)
    # Assert
    spec = binned.preprocessing
    width = len(spec.feature_names)
    assert 0 < encoded_width(spec.bin_edges) <= 3 * width  # at most 3 bins a feature
    assert binned.input_dim == width + encoded_width(spec.bin_edges)
    for site in plain.site_ids:
        for split in ("train", "val", "test"):
            ours, theirs = getattr(binned.sites[site], split), getattr(plain.sites[site], split)
            assert ours.x.shape[-1] == binned.input_dim
            torch.testing.assert_close(ours.x[..., :width], theirs.x)
            ramps = ours.x[..., width:]
            assert float(ramps.min()) >= 0.0 and float(ramps.max()) <= 1.0
    assert PreprocessingSpec.from_dict(spec.to_dict()) == spec


def test_a_feature_subset_keeps_the_named_columns_in_that_order():
    # Prepare
    full = load_federated_data(SMALL, SEED)
    names = (full.feature_names[3], full.feature_names[0])
    # Execute
    subset = load_federated_data(SMALL.model_copy(update={"features": names}), SEED)
    # Assert: the same rows, the named columns (standardised with their own statistics)
    assert subset.feature_names == list(names)
    site = full.site_ids[0]
    expected = full.sites[site].train.x[..., [3, 0]]
    torch.testing.assert_close(subset.sites[site].train.x, expected)


def test_an_unknown_feature_is_named_with_the_valid_ones():
    with pytest.raises(ConfigError, match="no_such_sensor") as error:
        load_federated_data(SMALL.model_copy(update={"features": ("no_such_sensor",)}), SEED)
    assert load_federated_data(SMALL, SEED).feature_names[0] in str(error.value)
