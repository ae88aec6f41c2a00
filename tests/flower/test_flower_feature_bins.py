"""Bin columns across deployed sites: the ServerApp's data flow over the real ClientApp.

Each site sends per-class histograms of its standardised training rows (never rows); the
server fits the edges from their sum and sends them with the preprocessing. The edges, and
every site's windows, must equal what the in-process pipeline builds from the pooled rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from flower_fakes import FakeGrid

from networkfed.api import run_federated
from networkfed.data import DataConfig, load_federated_data
from networkfed.federated.config import RunConfig
from networkfed.flower.engine import serving
from networkfed.flower.grid_runner import GridRunner
from networkfed.flower.messages import SiteSetup
from networkfed.flower.server_app import discover_federation
from networkfed.flower.site_data import deployed_site_data, local_data_config, site_table
from networkfed.serving.checkpoint import load_served_model

pytestmark = pytest.mark.flower

DATA = DataConfig(rows_per_site=400, feature_bins=3,
                  features=("torque_nm", "tool_wear_min", "mechanical_power_w"))
SEED = 4


def test_sites_histograms_give_the_in_process_edges_and_windows(tmp_path: Path) -> None:
    # Prepare: one SuperNode per example site
    grid = FakeGrid({node: {"site-id": site} for node, site in enumerate(DATA.sites, 1)})
    config = RunConfig(data=DATA, model="lstm", rounds=1, local_epochs=1, seed=SEED,
                       engine="flower", min_fit_clients=3)
    runner = GridRunner(grid, SiteSetup(config.data, config.seed), min_fit_clients=3,
                        timeout=60.0)
    expected = load_federated_data(DATA, SEED)

    # Execute: what the ServerApp does, then one round
    data = discover_federation(runner, config.data, min_nodes=3, wait=1.0)
    with serving(runner):
        result = run_federated(config, data, run_dir=tmp_path / "run")

    # Assert: asked twice (the second time with the federation's scaling), same edges,
    # same windows at every site, and a round trained on them
    scaled = [q for q in grid.sent if q.metadata.message_type == "query"
              and json.loads(str(q.content["config"]["scaling"])) is not None]
    assert len(scaled) == 3
    spec = data.preprocessing
    assert spec.bin_edges == expected.preprocessing.bin_edges
    assert spec.input_dim == expected.input_dim > len(DATA.features)
    for site in DATA.sites:
        table = site_table(local_data_config(DATA, site, {"site-id": site}), site, SEED)
        windows = deployed_site_data(table, spec)
        for split in ("train", "val", "test"):
            torch.testing.assert_close(getattr(windows, split).x,
                                       getattr(expected.sites[site], split).x)
    assert result.rounds_completed == 1
    assert load_served_model(tmp_path / "run").preprocessing.bin_edges == spec.bin_edges
