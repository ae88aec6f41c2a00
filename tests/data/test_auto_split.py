"""``split="auto"`` on a CSV of short episodes: whole groups to one split, never cut in time.

The scenario of issue 18: one row per second of many short test cycles at three plants, the
label constant within a cycle. A time split (what ``auto`` used to choose) puts every cycle in
train, val and test at once, and leaves each split too few rows per cycle for a 10-step window.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from episodes import write_cycles
from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data import DataConfig, load_federated_data
from networkfed.data.splits import groups_across_splits, label_constant_within_groups


def cycles_config(path: Path, **changes: object) -> DataConfig:
    options = {"dataset": "csv", "data_path": path, "label_column": "failure",
               "site_column": "plant", "group_column": "cycle", "time_column": "second",
               "sequence_length": 10, **changes}
    return DataConfig(**options)  # type: ignore[arg-type]


def splits_of_each_cycle(data) -> dict[str, set[str]]:
    """Which splits each cycle's windows landed in (over every site)."""
    found: dict[str, set[str]] = {}
    for site in data.sites.values():
        for name in ("train", "val", "test"):
            for cycle in getattr(site, name).machine_ids:
                found.setdefault(str(cycle), set()).add(name)
    return found


def test_auto_puts_each_cycle_in_one_split_and_accepts_the_lstm_window(tmp_path: Path) -> None:
    # Prepare
    path = write_cycles(tmp_path / "cycles.csv")

    # Execute: the LSTM's default window, 10 steps
    data = load_federated_data(cycles_config(path), seed=0)

    # Assert: no cycle is in two splits, and every site has windows in every split
    assert data.preprocessing.source_options["split"] == "machine"
    assert "constant within every cycle group" in data.preprocessing.source_options["split_reason"]
    assert all(len(splits) == 1 for splits in splits_of_each_cycle(data).values())
    assert all(len(site.val) and len(site.test) for site in data.sites.values())


def test_a_time_split_of_episodes_warns_and_its_refusal_names_the_remedy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: what auto chose before (every cycle cut in time)
    path = write_cycles(tmp_path / "cycles.csv")

    # Execute: single rows load, with a warning; 10-step windows do not fit the cut cycles
    with caplog.at_level(logging.WARNING, logger="networkfed"):
        data = load_federated_data(cycles_config(path, split="time", sequence_length=1), 0)
    with pytest.raises(DataValidationError) as refused:
        load_federated_data(cycles_config(path, split="time"), seed=0)

    # Assert
    cycles = splits_of_each_cycle(data)
    assert all(splits == {"train", "val", "test"} for splits in cycles.values())
    assert f"put {len(cycles)} of {len(cycles)} groups" in caplog.text
    assert "--split machine" in caplog.text
    message = str(refused.value)
    assert "more rows per machine" in message and "--split machine" in message
    assert "more data" not in message


def test_auto_cuts_machines_in_time_when_the_label_changes_within_them(tmp_path: Path) -> None:
    # Prepare: a failure flagged on a cycle's last rows only: a machine's life, not an episode
    path = write_cycles(tmp_path / "cycles.csv", constant_label=False)

    # Execute
    data = load_federated_data(cycles_config(path, sequence_length=1), seed=0)

    # Assert
    assert data.preprocessing.source_options["split"] == "time"
    assert "changes within cycle groups" in data.preprocessing.source_options["split_reason"]


def test_auto_keeps_time_when_a_site_has_too_few_groups_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: two cycles per plant, too few for a train, a val and a test cycle each
    path = write_cycles(tmp_path / "cycles.csv", cycles=2)

    # Execute
    with caplog.at_level(logging.WARNING, logger="networkfed"):
        data = load_federated_data(cycles_config(path, sequence_length=1), seed=0)

    # Assert
    assert data.preprocessing.source_options["split"] == "time"
    assert "only 2 groups" in data.preprocessing.source_options["split_reason"]
    assert "--split machine" in caplog.text


def test_auto_and_the_split_it_chose_are_the_same_data(tmp_path: Path) -> None:
    # Prepare
    path = write_cycles(tmp_path / "cycles.csv")

    # Execute
    auto = load_federated_data(cycles_config(path), seed=0)
    machine = load_federated_data(cycles_config(path, split="machine"), seed=0)
    time = load_federated_data(cycles_config(path, split="time", sequence_length=1), seed=0)

    # Assert: same fingerprint (a run resumed from its resolved config.toml sees its data)
    assert auto.fingerprint == machine.fingerprint != time.fingerprint
    for site_id, site in auto.sites.items():
        assert np.array_equal(site.test.x.numpy(), machine.sites[site_id].test.x.numpy())


def test_label_constant_within_groups() -> None:
    groups = np.array(["a", "a", "b", "b", "c"])
    assert label_constant_within_groups(groups, np.array([1, 1, 0, 0, 1]))
    assert not label_constant_within_groups(groups, np.array([1, 1, 0, 1, 1]))


def test_groups_across_splits_counts_groups_in_more_than_one_split() -> None:
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    assert groups_across_splits(groups, np.array([0, 0, 1, 1, 2, 2])) == 0
    assert groups_across_splits(groups, np.array([0, 1, 1, 1, 0, 2])) == 2


def test_more_sites_than_machines_under_a_time_split_names_the_remedy(ai4i_csv: Path) -> None:
    # Prepare: AI4I 2020 is one process stream, so a time split sees one machine
    config = DataConfig(dataset="ai4i2020", data_path=ai4i_csv, split="time",
                        partition="dirichlet", num_sites=3, sequence_length=1)

    # Execute / Assert: the refusal says why (whole machines) and what to do instead
    with pytest.raises(ConfigError) as refusal:
        load_federated_data(config, seed=0)
    message = str(refusal.value)
    assert "ai4i2020 has 1 machine(s) where 3 are needed" in message
    assert "--split stratified" in message
