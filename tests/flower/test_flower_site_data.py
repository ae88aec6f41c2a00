"""A deployed site's own data equals what the in-process pipeline gives that site."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from networkfed.core.errors import ConfigError
from networkfed.data import DataConfig, load_federated_data
from networkfed.flower.federation_data import federation_data
from networkfed.flower.site_data import (
    deployed_site_data,
    local_data_config,
    site_report,
    site_table,
)

CONFIG = DataConfig(rows_per_site=400)
SEED = 5


@pytest.fixture(scope="module")
def reports_and_tables():
    tables = {
        site: site_table(local_data_config(CONFIG, site, {"site-id": site}), site, SEED)
        for site in CONFIG.sites
    }
    return {site: site_report(table) for site, table in tables.items()}, tables


def test_federated_statistics_from_reports_equal_the_pooled_ones(reports_and_tables):
    # Prepare
    reports, _ = reports_and_tables
    expected = load_federated_data(CONFIG, SEED).preprocessing
    # Execute
    data = federation_data(reports, CONFIG)
    # Assert
    np.testing.assert_allclose(data.preprocessing.mean, expected.mean, rtol=1e-9)
    np.testing.assert_allclose(data.preprocessing.std, expected.std, rtol=1e-9)
    assert data.preprocessing.feature_names == expected.feature_names
    assert data.site_ids == sorted(CONFIG.sites)


def test_server_view_holds_counts_not_windows(reports_and_tables):
    # Prepare
    reports, _ = reports_and_tables
    full = load_federated_data(CONFIG, SEED)
    # Execute
    view = federation_data(reports, CONFIG)
    # Assert: sizes and label counts as the sites have them, no features
    for site in CONFIG.sites:
        for split in ("train", "val", "test"):
            ours, theirs = getattr(view.sites[site], split), getattr(full.sites[site], split)
            assert len(ours) == len(theirs)
            assert ours.positives == theirs.positives
            assert ours.x.numel() == 0


def test_site_windows_with_the_federations_statistics_equal_the_in_process_ones(
    reports_and_tables,
):
    # Prepare
    reports, tables = reports_and_tables
    full = load_federated_data(CONFIG, SEED)
    spec = federation_data(reports, CONFIG).preprocessing
    # Execute
    site = deployed_site_data(tables["chemical_houston"], spec)
    # Assert
    expected = full.sites["chemical_houston"]
    for split in ("train", "val", "test"):
        torch.testing.assert_close(getattr(site, split).x, getattr(expected, split).x)
        assert torch.equal(getattr(site, split).y, getattr(expected, split).y)


def test_a_file_based_site_needs_its_data_path():
    with pytest.raises(ConfigError, match="data-path"):
        local_data_config(DataConfig(dataset="csv"), "plant_a", {"site-id": "plant_a"})


def test_cmapss_is_refused_in_a_deployment():
    with pytest.raises(ConfigError, match="cmapss"):
        local_data_config(DataConfig(dataset="cmapss"), "FD001", {"data-path": "x"})
