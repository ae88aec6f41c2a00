"""A plant's own file in a Flower deployment gets the split ``auto`` gives it in-process, and
the server says when the plants chose differently."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from episodes import write_cycles
from networkfed.data import DataConfig
from networkfed.data.splits import groups_across_splits
from networkfed.flower.federation_data import federation_spec
from networkfed.flower.site_data import local_data_config, site_report, site_table


def test_a_plants_file_of_short_cycles_is_split_by_whole_cycle(tmp_path: Path) -> None:
    # Prepare: plant_a's rows alone, without a site column, as a SuperNode would hold them
    frame = pd.read_csv(write_cycles(tmp_path / "all.csv"))
    plant = tmp_path / "plant_a.csv"
    frame[frame["plant"] == "plant_a"].drop(columns="plant").to_csv(plant, index=False)
    federation = DataConfig(dataset="csv", label_column="failure", group_column="cycle",
                            time_column="second", sequence_length=10)

    # Execute
    config = local_data_config(federation, "plant_a", {"data-path": str(plant)})
    site = site_table(config, "plant_a", seed=0)
    report = site_report(site)

    # Assert: whole cycles, and the LSTM's 10-step windows in every split
    assert site.table.options["split"] == "machine"
    assert groups_across_splits(site.table.machines, site.split) == 0
    assert all(sum(counts) > 0 for counts in report["label_counts"].values())


def test_the_server_warns_when_sites_resolve_auto_differently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: plant_a's cycles keep one label each, plant_b's failures are flagged at the end
    episodes = pd.read_csv(write_cycles(tmp_path / "a.csv"))
    lives = pd.read_csv(write_cycles(tmp_path / "b.csv", constant_label=False, seed=1))
    federation = DataConfig(dataset="csv", label_column="failure", group_column="cycle",
                            time_column="second", sequence_length=1)
    reports = {}
    for site_id, frame in (("plant_a", episodes), ("plant_b", lives)):
        path = tmp_path / f"{site_id}.csv"
        frame[frame["plant"] == "plant_a"].drop(columns="plant").to_csv(path, index=False)
        config = local_data_config(federation, site_id, {"data-path": str(path)})
        reports[site_id] = site_report(site_table(config, site_id, seed=0))

    # Execute
    with caplog.at_level(logging.WARNING, logger="networkfed"):
        federation_spec(reports, federation)

    # Assert
    assert "plant_a: machine, plant_b: time" in caplog.text and "set --split" in caplog.text
