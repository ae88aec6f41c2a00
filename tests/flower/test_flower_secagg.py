"""Secure aggregation (SecAgg+) in a real deployment: SuperLink and three SuperNodes as separate
processes on 127.0.0.1, TLS and SuperNode authentication on, ``flwr run`` of the package's app.

Round 1: all three sites; the model the server saved must equal the example-weighted FedAvg of
the sites' own updates (recorded at the sites, before masking) within SecAgg+'s quantisation
error. Round 2: one site fails after sharing its keys; the other two (= the reconstruction
threshold) finish the round, and the saved model is the FedAvg of those two.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.flower.certs import make_certificates
from networkfed.flower.deploy import (
    DeployOptions,
    deploy_run_config,
    write_app_dir,
    write_config_file,
)
from networkfed.flower.federation import LocalFederation
from networkfed.flower.secagg_settings import SecAggSettings
from networkfed.models import ModelManager

pytestmark = [pytest.mark.flower, pytest.mark.slow]

SITES = ("automotive_detroit", "chemical_houston", "aerospace_seattle")
DROPPED = SITES[2]
APP = Path(__file__).with_name("secagg_test_app.py")
QUANTISATION = 2e-5
"""SecAgg+ quantises each weighted value to steps of 16 / 2**22 (~4e-6) with stochastic
rounding; summed over three sites and divided by the total weight, errors stay well below."""


def _expected(before: dict[str, torch.Tensor], record: Path, sites: tuple[str, ...],
              round_num: int) -> dict[str, np.ndarray]:
    """Global state + the example-weighted mean of the sites' recorded deltas (FedAvg)."""
    loaded = [np.load(record / f"{site}-round{round_num}.npz") for site in sites]
    weights = np.array([float(found["num_examples"]) for found in loaded])
    keys = [key for key in loaded[0].files if key != "num_examples"]
    return {key: before[key].double().numpy()
            + sum(w * found[key] for w, found in zip(weights, loaded, strict=True))
            / weights.sum() for key in keys}


def test_secure_aggregate_equals_fedavg_and_survives_a_site_lost_after_sharing_keys(tmp_path):
    # Prepare: the sites record their clear deltas; one fails at stage 2 of round 2
    record, run_dir = tmp_path / "record", tmp_path / "run"
    record.mkdir()
    saved_env = {key: os.environ.get(key) for key in ("NETWORKFED_TEST_SECAGG_DROP",
                                                      "NETWORKFED_TEST_SECAGG_RECORD")}
    os.environ |= {"NETWORKFED_TEST_SECAGG_DROP": f"{DROPPED}:2",
                   "NETWORKFED_TEST_SECAGG_RECORD": str(record)}
    certs = make_certificates(tmp_path / "certs", site_ids=list(SITES))
    config = RunConfig(data=DataConfig(rows_per_site=900), rounds=2, local_epochs=1, seed=7,
                       engine="flower", run_dir=run_dir, min_fit_clients=2)
    options = DeployOptions(round_timeout=240.0, straggler_timeout=60.0, node_wait_timeout=120.0,
                            run_timeout=420.0, secagg=SecAggSettings(shares=3, threshold=2))
    app = write_app_dir(tmp_path / "app", client_app="secagg_test_app:app")
    shutil.copy(APP, app / APP.name)
    # Execute
    try:
        with LocalFederation(tmp_path, certs) as federation:
            federation.start_superlink()
            for site in SITES:
                federation.register_supernode(certs.node_keys[site][1])
                federation.start_supernode(site, certs.node_keys[site][0], {"site-id": site})
            values = deploy_run_config(write_config_file(config, tmp_path), run_dir, 3, options)
            outcome = federation.run_app(app, values, timeout=options.run_timeout)
    finally:
        for key, value in saved_env.items():
            os.environ.pop(key) if value is None else os.environ.update({key: value})
    # Assert: the run completed with the usual run folder
    log = outcome.log_path.read_text()
    assert outcome.ok, log[-3000:]
    assert "Secure aggregation completed" in log
    manager = ModelManager(run_dir / "checkpoints")
    assert manager.list_rounds("global") == [0, 1, 2]
    states = {r: manager.get_snapshot("global", r)[0] for r in (0, 1, 2)}
    # Assert: round 1 is the FedAvg of all three sites' updates, up to quantisation
    for round_num, sites in ((1, SITES), (2, SITES[:2])):
        expected = _expected(states[round_num - 1], record, sites, round_num)
        for key, value in expected.items():
            got = states[round_num][key].double().numpy()
            assert np.abs(got - value).max() < QUANTISATION, (round_num, key)
        moved = max(np.abs(value - states[round_num - 1][key].double().numpy()).max()
                    for key, value in expected.items())
        assert moved > 100 * QUANTISATION  # the updates are far larger than the tolerance
    # Assert: the lost site is out of round 2 only; the others trained both rounds
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    trained = {r["round"]: set() for r in rows}
    for row in rows:
        if row["split"] == "train" and row["site"] in SITES:
            trained[row["round"]].add(row["site"])
    assert trained[1] == set(SITES) and trained[2] == set(SITES[:2])
    assert not (record / f"{DROPPED}-round2.npz").exists()
    assert json.loads((run_dir / "summary.json").read_text())["rounds_completed"] == 2
