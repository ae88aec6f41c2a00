"""load_federated_data / prepare_new_data on the built-in telemetry and small CSVs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from networkfed.core.errors import ConfigError
from networkfed.data import DataConfig, FederatedData, load_federated_data, prepare_new_data
from networkfed.data.config import EXAMPLE_SITES
from networkfed.data.synthetic import PRESETS, generate_site_telemetry

SMALL = DataConfig(rows_per_site=600)


@pytest.fixture(scope="module")
def small() -> FederatedData:
    return load_federated_data(SMALL, seed=3)


def test_shapes_dtypes_and_sites(small: FederatedData) -> None:
    assert small.site_ids == list(EXAMPLE_SITES)
    assert small.input_dim == 10 and small.sequence_length == 10
    for site in small.sites.values():
        for part in (site.train, site.val, site.test):
            assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64
            assert part.x.ndim == 3 and part.x.shape[1:] == (10, 10)
            assert len(part.machine_ids) == len(part) > 0
            assert torch.isfinite(part.x).all()


def test_same_seed_same_tensors_and_fingerprint(small: FederatedData) -> None:
    again = load_federated_data(SMALL, seed=3)
    other = load_federated_data(SMALL, seed=4)
    site = EXAMPLE_SITES[0]
    assert torch.equal(small.sites[site].train.x, again.sites[site].train.x)
    assert small.fingerprint == again.fingerprint != other.fingerprint


def _training_rows(part) -> torch.Tensor:
    """The distinct rows under a split's windows: a run's first window, then each last step."""
    rows = []
    for machine in dict.fromkeys(part.machine_ids):
        windows = part.x[torch.from_numpy(part.machine_ids == machine)]
        rows += [windows[0, :-1], windows[:, -1]]
    return torch.cat(rows)


def test_training_rows_are_standardised_with_pooled_statistics(small: FederatedData) -> None:
    rows = torch.cat([_training_rows(s.train) for s in small.sites.values()]).double()
    assert rows.mean(dim=0).abs().max() < 1e-4
    assert (rows.std(dim=0, unbiased=False) - 1).abs().max() < 1e-4


def test_site_normalization_centres_each_site() -> None:
    data = load_federated_data(SMALL.model_copy(update={"normalization": "site"}), seed=3)
    assert set(data.preprocessing.source_options["site_statistics"]) == set(EXAMPLE_SITES)
    for site in data.sites.values():
        assert _training_rows(site.train).double().mean(dim=0).abs().max() < 1e-4


def test_default_size_gives_thousands_of_training_windows_per_site() -> None:
    data = load_federated_data(DataConfig(), seed=0)
    counts = [site.num_train_examples for site in data.sites.values()]
    assert all(2_500 <= n <= 4_000 for n in counts)
    rate = np.mean([site.metadata["failure_rate"] for site in data.sites.values()])
    assert 0.02 < rate < 0.05


@pytest.mark.parametrize("partition", ["iid", "dirichlet", "quantity"])
def test_partition_schemes_keep_each_machine_at_one_site(partition: str) -> None:
    config = DataConfig(rows_per_site=1200, partition=partition, num_sites=2)
    data = load_federated_data(config, seed=5)
    assert data.site_ids == ["site_0", "site_1"]
    seen: dict[str, str] = {}
    for site in data.sites.values():
        for machine in np.concatenate([site.train.machine_ids, site.test.machine_ids]):
            assert seen.setdefault(machine, site.site_id) == site.site_id


def test_machine_split_keeps_test_machines_unseen() -> None:
    data = load_federated_data(DataConfig(rows_per_site=2400, split="machine"), seed=1)
    for site in data.sites.values():
        train, test = set(site.train.machine_ids), set(site.test.machine_ids)
        assert train and test and not train & test


def test_natural_partition_with_fixed_sites_rejects_other_counts(tmp_path: Path) -> None:
    path = _plant_csv(tmp_path)
    config = DataConfig(
        dataset="csv",
        data_path=path,
        label_column="failure",
        site_column="plant",
        group_column="machine",
        num_sites=5,
    )
    with pytest.raises(ConfigError, match="num_sites"):
        load_federated_data(config, seed=0)


def test_dirichlet_warns_when_a_site_gets_no_failure(caplog: pytest.LogCaptureFixture) -> None:
    config = DataConfig(
        rows_per_site=1500,
        partition="dirichlet",
        dirichlet_alpha=0.05,
        num_sites=4,
        split="stratified",
        sequence_length=1,
    )
    with caplog.at_level(logging.WARNING, logger="networkfed.data"):
        for seed in range(6):
            data = load_federated_data(config, seed=seed)
            if any(site.train.positives == 0 for site in data.sites.values()):
                break
    empty = [s for s, site in data.sites.items() if site.train.positives == 0]
    assert empty
    assert f"{len(empty)} of 4 sites have no failure at all" in caplog.text
    assert ", ".join(empty) in caplog.text


def test_many_sites_without_failures_give_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    # Prepare: 300 small sites, most of them without a failure
    config = DataConfig(partition="iid", num_sites=300, split="stratified", sequence_length=1)
    # Execute
    with caplog.at_level(logging.WARNING, logger="networkfed.data"):
        data = load_federated_data(config, seed=0)
    # Assert
    empty = sum(site.train.positives == 0 for site in data.sites.values())
    warnings = [r.getMessage() for r in caplog.records if "no failure at all" in r.getMessage()]
    assert empty > 10 and len(warnings) == 1
    assert warnings[0].startswith(f"{empty} of 300 sites") and "more" in warnings[0]


def _plant_csv(tmp_path: Path) -> Path:
    frames = []
    for plant, profile in zip(("north", "south"), PRESETS.values(), strict=False):
        rows = generate_site_telemetry(profile, 400, seed=1, min_rows_per_machine=100)
        frames.append(
            pd.DataFrame(
                {
                    "plant": plant,
                    "machine": rows["machine_id"],
                    "ts": rows["step"],
                    "temp": rows["Air temperature [K]"],
                    "torque": rows["Torque [Nm]"],
                    "wear": rows["Tool wear [min]"],
                    "failure": rows["Machine failure"],
                }
            )
        )
    path = tmp_path / "plant.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_csv_source_with_sites_machines_and_time(tmp_path: Path) -> None:
    path = _plant_csv(tmp_path)
    config = DataConfig(
        dataset="csv",
        data_path=path,
        label_column="failure",
        site_column="plant",
        group_column="machine",
        time_column="ts",
        sequence_length=5,
    )
    data = load_federated_data(config, seed=0)
    assert data.site_ids == ["north", "south"]
    assert data.feature_names == ["temp", "torque", "wear"]
    options = data.preprocessing.source_options
    assert options["label_column"] == "failure" and options["group_column"] == "machine"


def test_prepare_new_data_matches_training_preparation(tmp_path: Path) -> None:
    # Prepare: the training rows of one site, written as a new file
    path = _plant_csv(tmp_path)
    config = DataConfig(
        dataset="csv",
        data_path=path,
        label_column="failure",
        site_column="plant",
        group_column="machine",
        time_column="ts",
        sequence_length=5,
    )
    data = load_federated_data(config, seed=0)
    # Execute
    x, frame = prepare_new_data(path, data.preprocessing)
    # Assert: every training window appears among the new windows, with the same numbers
    assert x.shape[1:] == (5, 3) and len(frame) == x.shape[0]
    assert {"plant", "machine", "ts"} <= set(frame.columns)
    train = data.sites["north"].train.x
    matches = (x[:, None] - train[None, :20]).abs().amax(dim=(2, 3)) < 1e-5
    assert matches.any(dim=0).all()


def test_prepare_new_data_on_synthetic_layout(tmp_path: Path) -> None:
    data = load_federated_data(SMALL, seed=3)
    rows = generate_site_telemetry(PRESETS["chemical_houston"], 100, seed=9)
    path = tmp_path / "new.csv"
    rows.drop(columns=["Machine failure"]).to_csv(path, index=False)
    x, frame = prepare_new_data(path, data.preprocessing)
    machines = rows["machine_id"].nunique()
    assert x.shape == (100 - 9 * machines, 10, 10)
    assert frame["machine_id"].nunique() == machines


def test_prepare_new_data_uses_a_sites_own_statistics(tmp_path: Path) -> None:
    # Prepare
    config = SMALL.model_copy(update={"normalization": "site"})
    data = load_federated_data(config, seed=3)
    path = tmp_path / "new.csv"
    generate_site_telemetry(PRESETS["chemical_houston"], 120, seed=2).to_csv(path, index=False)
    # Execute
    own, _ = prepare_new_data(path, data.preprocessing, site_id="chemical_houston")
    # Assert: standardised with that site's statistics, not the pooled ones
    stats = data.preprocessing.source_options["site_statistics"]["chemical_houston"]
    raw_first = (own[0, 0].double() * torch.tensor(stats["std"])) + torch.tensor(stats["mean"])
    pooled_view = (raw_first - torch.tensor(data.preprocessing.mean)) / torch.tensor(
        data.preprocessing.std)
    assert not torch.allclose(own[0, 0].double(), pooled_view)
    # a site-standardised run refuses a file without a site, or from a site it does not know
    for site in (None, "no_such_site"):
        with pytest.raises(ConfigError, match="chemical_houston"):
            prepare_new_data(path, data.preprocessing, site_id=site)
