"""C-MAPSS across plants: the ServerApp's data flow over the real ClientApp (in-memory grid).

Each plant's SuperNode has only its own folder of run files. The server learns the
per-operating-condition normalisation from the plants' reports, asks them to report again
after applying it, and trains; no row leaves a plant.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flower_fakes import FakeGrid
from plant_files import cmapss_plant_folders

from networkfed.api import run_federated
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.flower.engine import serving
from networkfed.flower.grid_runner import GridRunner
from networkfed.flower.messages import SiteSetup
from networkfed.flower.server_app import discover_federation

pytestmark = pytest.mark.slow


def test_plants_with_their_own_cmapss_files_train_a_federation(
    cmapss_dir: Path, tmp_path: Path
) -> None:
    # Prepare: two plants (SuperNodes 7 and 9) and the server's run settings
    folders = cmapss_plant_folders(cmapss_dir, tmp_path, ("FD001", "FD003"))
    grid = FakeGrid({7: {"site-id": "plant_fd001", "data-path": str(folders["FD001"])},
                     9: {"site-id": "plant_fd003", "data-path": str(folders["FD003"])}})
    config = RunConfig(
        data=DataConfig(dataset="cmapss", data_path=tmp_path, subsets=("FD001", "FD003"),
                        sequence_length=19),
        model="lstm", rounds=1, local_epochs=1, seed=3, engine="flower", min_fit_clients=2,
        hparams={"batch_size": 256},
    )
    runner = GridRunner(grid, SiteSetup(config.data, config.seed), min_fit_clients=2,
                        timeout=60.0)

    # Execute: what the ServerApp does
    data = discover_federation(runner, config.data, min_nodes=2, wait=1.0)
    with serving(runner):
        result = run_federated(config, data, run_dir=tmp_path / "run")

    # Assert: every plant asked twice (the second time with the combined state), the shared
    # state in the federation's preprocessing, a trained round scored on the official tests
    queries = [q for q in grid.sent if q.metadata.message_type == "query"]
    sent_states = [json.loads(str(q.content["config"]["transform"])) for q in queries]
    transform = data.preprocessing.source_options["transform"]
    assert len(queries) == 4 and sent_states.count({}) == 2 and sent_states.count(transform) == 2
    assert all(report["transformed"] for report in runner.reports.values())
    assert data.preprocessing.feature_names == transform["kept_features"]
    assert len(transform["conditions"]) == 1  # FD001 and FD003 run at one condition
    assert result.rounds_completed == 1
    assert result.last.evaluation.per_site.keys() == {"plant_fd001", "plant_fd003"}
    assert result.last.overall["num_examples"] == 200  # one window per official test engine
    assert result.last.overall["pr_auc"] > 0.5
    assert (tmp_path / "run" / "report.html").is_file()
