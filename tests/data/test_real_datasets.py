"""The real AI4I 2020 and C-MAPSS files, read from the shared data folder (conftest fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from networkfed.data import DataConfig, FederatedData, load_federated_data, prepare_new_data
from networkfed.data.features import AI4I_FEATURES, LEAKAGE_COLUMNS
from networkfed.data.sources import get_source
from networkfed.data.sources.cmapss import read_run_file

UNITS = {"FD001": (100, 100), "FD002": (260, 259), "FD003": (100, 100), "FD004": (249, 248)}


@pytest.fixture(scope="module")
def ai4i(ai4i_csv: Path) -> FederatedData:
    return load_federated_data(DataConfig(dataset="ai4i2020", data_path=ai4i_csv), seed=0)


@pytest.fixture(scope="module")
def cmapss(cmapss_dir: Path) -> FederatedData:
    return load_federated_data(DataConfig(dataset="cmapss", data_path=cmapss_dir), seed=0)


def test_ai4i_rows_failures_and_natural_sites(ai4i: FederatedData) -> None:
    meta = {site_id: site.metadata for site_id, site in ai4i.sites.items()}
    assert sorted(meta) == ["type_H", "type_L", "type_M"]
    assert sum(m["rows"] for m in meta.values()) == 10_000
    assert sum(m["failures"] for m in meta.values()) == 339
    assert {k: m["rows"] for k, m in meta.items()} == {
        "type_L": 6000,
        "type_M": 2997,
        "type_H": 1003,
    }


def test_ai4i_features_exclude_failure_modes(ai4i: FederatedData) -> None:
    assert ai4i.feature_names == list(AI4I_FEATURES)
    assert not set(ai4i.feature_names) & set(LEAKAGE_COLUMNS)


def test_ai4i_stratified_splits_keep_failures_everywhere(ai4i: FederatedData) -> None:
    for site in ai4i.sites.values():
        rows = site.metadata["rows_per_split"]
        assert abs(rows["test"] / site.metadata["rows"] - 0.2) < 0.01
        assert site.train.positives > 0 and site.test.positives > 0


def test_ai4i_reader_sees_all_rows(ai4i_csv: Path) -> None:
    table = get_source("ai4i2020").read_new(ai4i_csv, {})
    assert len(table) == 10_000 and int(table.labels.sum()) == 339


@pytest.mark.parametrize("subset", sorted(UNITS))
def test_cmapss_unit_counts(cmapss_dir: Path, subset: str) -> None:
    train = read_run_file(cmapss_dir / f"train_{subset}.txt")
    test = read_run_file(cmapss_dir / f"test_{subset}.txt")
    assert (train["unit"].nunique(), test["unit"].nunique()) == UNITS[subset]


def test_cmapss_sites_are_subsets_with_unique_engines(cmapss: FederatedData) -> None:
    assert cmapss.site_ids == sorted(UNITS)
    engines = [
        set(np.concatenate([s.train.machine_ids, s.val.machine_ids, s.test.machine_ids]))
        for s in cmapss.sites.values()
    ]
    assert sum(len(e) for e in engines) == len(set().union(*engines))
    for site_id, site in cmapss.sites.items():
        assert (
            len(set(site.train.machine_ids)) + len(set(site.val.machine_ids)) == UNITS[site_id][0]
        )


def test_cmapss_split_by_engine_and_last_test_window(
    cmapss: FederatedData, cmapss_dir: Path
) -> None:
    for site_id, site in cmapss.sites.items():
        assert not set(site.train.machine_ids) & set(site.val.machine_ids)
        assert len(site.test) == UNITS[site_id][1]  # one (the last) window per test engine
        rul = np.loadtxt(cmapss_dir / f"RUL_{site_id}.txt")
        assert site.test.positives == int((rul <= 30).sum())
        np.testing.assert_array_equal(site.metadata["rul"]["test"], rul)


def test_cmapss_truncated_validation_keeps_cuts_per_engine(cmapss_dir: Path) -> None:
    # Prepare
    config = DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001",))
    full = load_federated_data(config, seed=0).sites["FD001"]

    # Execute
    cut = load_federated_data(config.model_copy(update={"val_truncations": 5}), seed=0)
    site = cut.sites["FD001"]

    # Assert: the same engines, 5 windows each (a subset of all windows); train and test kept
    engines, counts = np.unique(site.val.machine_ids, return_counts=True)
    assert set(engines) == set(full.val.machine_ids) and set(counts) == {5}
    assert set(site.metadata["rul"]["val"]) <= set(full.metadata["rul"]["val"])
    assert torch.equal(site.train.x, full.train.x) and torch.equal(site.test.x, full.test.x)


def test_cmapss_labels_follow_the_horizon(cmapss: FederatedData) -> None:
    site = cmapss.sites["FD001"]
    rul = site.metadata["rul"]["train"]
    np.testing.assert_array_equal(site.train.y.numpy(), (rul <= 30).astype(np.int64))


def test_cmapss_constant_sensors_and_settings_dropped(
    cmapss: FederatedData, cmapss_dir: Path
) -> None:
    dropped = {"sensor_1", "sensor_5", "sensor_10", "sensor_16", "sensor_18", "sensor_19"}
    assert not dropped & set(cmapss.feature_names)
    assert not any(name.startswith("setting") for name in cmapss.feature_names)
    fd001 = load_federated_data(
        DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD001",)), seed=0
    )
    assert fd001.input_dim == 14  # the sensors the literature keeps for FD001


def test_cmapss_per_condition_normalisation(cmapss: FederatedData, cmapss_dir: Path) -> None:
    conditions = cmapss.preprocessing.source_options["transform"]["conditions"]
    assert len(conditions) == 6  # FD002/FD004's six regimes (FD001/FD003 run at one of them)
    # Every training row of FD002 (rows, so none is left out of a window), by condition
    fd002 = load_federated_data(
        DataConfig(dataset="cmapss", data_path=cmapss_dir, subsets=("FD002",), sequence_length=1),
        seed=0,
    )
    site = fd002.sites["FD002"]
    x = site.train.x[:, 0, :].double()
    condition = np.asarray(site.metadata["operating_condition"]["train"])
    assert np.unique(condition).size == 6
    for key in np.unique(condition):
        rows = x[torch.from_numpy(condition == key)]
        assert rows.shape[0] > 1000, key
        # Each regime's shift and scale removed: mean 0 and SD 1 per sensor (population SD,
        # as the statistics are computed). Pooled standardisation alone leaves regime means
        # up to 2.4 SDs from 0.
        assert rows.mean(0).abs().max() < 1e-3, key
        assert (rows.std(0, correction=0) - 1).abs().max() < 1e-3, key


def test_cmapss_prepare_new_test_file(cmapss: FederatedData, cmapss_dir: Path) -> None:
    path = cmapss_dir / "test_FD001.txt"
    x, frame = prepare_new_data(path, cmapss.preprocessing)
    lengths = pd.read_csv(path, sep=r"\s+", header=None).groupby(0).size()
    assert x.shape == (int((lengths - 9).clip(lower=0).sum()), 10, cmapss.input_dim)
    assert list(frame.columns[:2]) == ["unit", "cycle"] and len(frame) == x.shape[0]
