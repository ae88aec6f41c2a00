"""A deployed site's own data equals what the in-process pipeline gives that site."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data import DataConfig, load_federated_data
from networkfed.data.label_stats import opposite_signs, site_label_statistics
from networkfed.flower.federation_data import federation_data, source_state
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


def _deploy(config: DataConfig, folders: dict[str, Path]) -> tuple[dict, dict, dict]:
    """The deployment's data flow without the network: reports, state, reports again."""
    tables = {
        site: site_table(local_data_config(config, site, {"data-path": str(folder)}), site, SEED)
        for site, folder in folders.items()
    }
    first = {site: site_report(table) for site, table in tables.items()}
    state = source_state(first, config)
    second = {site: site_report(table, state) for site, table in tables.items()}
    return tables, second, state


@pytest.mark.parametrize("length", [19, 40])  # 40: FD001's shortest test engines are padded
def test_a_cmapss_site_deployed_alone_equals_the_in_process_pipeline(cmapss_dir: Path,
                                                                      length: int):
    # Prepare: one plant holding FD001's files; the in-process pipeline on the same subset
    config = DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001",),
                        sequence_length=length)
    expected = load_federated_data(config, SEED)
    # Execute
    tables, reports, state = _deploy(config, {"FD001": cmapss_dir})
    spec = federation_data(reports, config, state).preprocessing
    site = deployed_site_data(tables["FD001"], spec)
    # Assert: the same normalisation, features and windows (test: each engine's last window)
    assert spec.source_options["transform"] == expected.preprocessing.source_options["transform"]
    assert spec.feature_names == expected.feature_names
    np.testing.assert_allclose(spec.mean, expected.preprocessing.mean, rtol=1e-9, atol=1e-12)
    for split in ("train", "val", "test"):
        ours, theirs = getattr(site, split), getattr(expected.sites["FD001"], split)
        torch.testing.assert_close(ours.x, theirs.x)
        assert torch.equal(ours.y, theirs.y)
    assert len(site.test) == 100  # FD001's official test engines, every one scored


def test_cmapss_plants_in_their_own_folders_share_one_normalisation(
    cmapss_dir: Path, tmp_path: Path
):
    # Prepare: two plants, each folder holding only its own subset's files
    folders = {}
    for subset in ("FD001", "FD003"):
        folders[subset] = tmp_path / subset
        folders[subset].mkdir()
        for part in ("train", "test", "RUL"):
            (folders[subset] / f"{part}_{subset}.txt").symlink_to(
                cmapss_dir / f"{part}_{subset}.txt")
    config = DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001", "FD003"),
                        sequence_length=19)
    # Execute
    tables, reports, state = _deploy(config, folders)
    spec = federation_data(reports, config, state).preprocessing
    sites = {name: deployed_site_data(table, spec) for name, table in tables.items()}
    # Assert: each plant read its own subset only; pooled training windows are standardised
    assert {name: table.config.subsets for name, table in tables.items()} == {
        "FD001": ("FD001",), "FD003": ("FD003",)}
    assert spec.feature_names == state["kept_features"]
    pooled = torch.cat([site.train.x[:, -1, :] for site in sites.values()])
    torch.testing.assert_close(pooled.mean(0), torch.zeros(pooled.shape[1]), atol=0.05, rtol=0)
    assert {name: len(site.test) for name, site in sites.items()} == {"FD001": 100, "FD003": 100}


def test_reports_made_before_the_transform_are_refused(cmapss_dir: Path):
    config = DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001",))
    table = site_table(local_data_config(config, "FD001", {"data-path": str(cmapss_dir)}),
                       "FD001", SEED)
    reports = {"FD001": site_report(table)}
    with pytest.raises(DataValidationError, match="FD001"):
        federation_data(reports, config, source_state(reports, config))


def test_a_cmapss_folder_without_the_federations_subsets_is_refused(tmp_path: Path):
    config = DataConfig(dataset="cmapss", subsets=("FD002",))
    with pytest.raises(DataValidationError, match="FD002"):
        local_data_config(config, "plant_a", {"data-path": str(tmp_path)})


def test_the_deployment_server_sees_sites_disagree_from_their_sums_alone():
    # Prepare: the sign-flip plants, single rows (a window per row)
    config = DataConfig(sites="sign-flip", rows_per_site=1500, sequence_length=1)
    tables = {site: site_table(local_data_config(config, site, {"site-id": site}), site, SEED)
              for site in config.sites}
    full = load_federated_data(config, SEED)
    names = full.preprocessing.feature_names

    # Execute
    view = federation_data({site: site_report(t) for site, t in tables.items()}, config)
    stats = {site: site_label_statistics(view.sites[site], len(names)) for site in config.sites}

    # Assert: the server's correlations are the in-process ones, and the flip is found
    for site in config.sites:
        expected = site_label_statistics(full.sites[site], len(names))
        np.testing.assert_allclose(stats[site].correlation, expected.correlation, atol=1e-6)
    found = opposite_signs(stats, names)
    assert found[0].feature == "air_temperature_k"
    assert list(found[0].rising) == ["plant_heat"] and list(found[0].falling) == ["plant_cold"]
