"""``split_scope="pooled"``: one split over all rows, whatever the partition (benchmarks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from networkfed.data import DataConfig, FederatedData, load_federated_data

SEED = 5


def _test_rows(data: FederatedData) -> set[tuple[str, float]]:
    """(machine, time) of every test window's row: the identity of the test rows."""
    rows = set()
    for site in data.sites.values():
        times = site.metadata["end_times"]["test"]
        rows |= set(zip(site.test.machine_ids.tolist(), np.asarray(times).tolist(), strict=True))
    return rows


def _tabular(**options: object) -> DataConfig:
    return DataConfig(rows_per_site=300, sequence_length=1, split="stratified", **options)


def test_pooled_split_gives_every_partition_the_same_test_rows() -> None:
    # Prepare
    iid = _tabular(split_scope="pooled", partition="iid", num_sites=3)
    skewed = _tabular(split_scope="pooled", partition="dirichlet", num_sites=3,
                      dirichlet_alpha=0.5)

    # Execute
    rows_iid = _test_rows(load_federated_data(iid, SEED))
    rows_skewed = _test_rows(load_federated_data(skewed, SEED))

    # Assert
    assert rows_iid == rows_skewed
    assert len(rows_iid) == round(900 * 0.2)


def test_site_split_depends_on_the_partition() -> None:
    # The default scope splits each site's own rows, so the partition changes the test rows.
    iid = _tabular(partition="iid", num_sites=3)
    skewed = _tabular(partition="dirichlet", num_sites=3, dirichlet_alpha=0.5)

    assert _test_rows(load_federated_data(iid, SEED)) != _test_rows(
        load_federated_data(skewed, SEED))


def test_pooled_split_is_stratified_over_all_rows() -> None:
    data = load_federated_data(_tabular(split_scope="pooled"), SEED)

    failures = {name: sum(getattr(s, name).positives for s in data.sites.values())
                for name in ("train", "val", "test")}
    rows = {name: sum(len(getattr(s, name)) for s in data.sites.values())
            for name in ("train", "val", "test")}
    total = sum(failures.values())
    assert failures["test"] == round(total * 0.2)
    assert failures["val"] == round(total * 0.15)
    assert rows["test"] == round((sum(rows.values()) - total) * 0.2) + failures["test"]


def test_ai4i_product_type_and_dirichlet_share_the_test_rows(ai4i_csv: Path) -> None:
    # Prepare: the quality benchmark's AI4I protocol, both partitions
    common = {"dataset": "ai4i2020", "data_path": ai4i_csv, "sequence_length": 1,
              "split": "stratified", "split_scope": "pooled"}
    natural = DataConfig(**common)
    skewed = DataConfig(**common, partition="dirichlet", num_sites=5, dirichlet_alpha=0.5)

    # Execute
    natural_data = load_federated_data(natural, SEED)
    rows_natural = _test_rows(natural_data)
    rows_skewed = _test_rows(load_federated_data(skewed, SEED))

    # Assert: 2,000 test rows (20 %, 68 of the 339 failures), the same for both partitions
    assert rows_natural == rows_skewed
    assert len(rows_natural) == 2000
    assert sum(site.test.positives for site in natural_data.sites.values()) == 68


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValidationError, match="split_scope"):
        DataConfig(split_scope="global")
