"""`engine="flower"` (Flower's simulation engine, Ray) against the in-process engine."""

from __future__ import annotations

import json

import pytest
import torch

from networkfed.api import run_federated
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.models import ModelManager

pytestmark = pytest.mark.flower


def _metric_rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_flower_simulation_matches_the_in_process_engine(tmp_path):
    # Prepare
    config = RunConfig(data=DataConfig(rows_per_site=400), rounds=2, local_epochs=1, seed=9,
                       workers=0)
    # Execute
    inprocess = run_federated(config, run_dir=tmp_path / "inprocess")
    flower = run_federated(config.model_copy(update={"engine": "flower"}),
                           run_dir=tmp_path / "flower")
    # Assert: final global parameters within 1e-5, identical metrics every round
    ours, _ = ModelManager(tmp_path / "flower" / "checkpoints").get_snapshot("global", 2)
    theirs, _ = ModelManager(tmp_path / "inprocess" / "checkpoints").get_snapshot("global", 2)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=1e-5)
    assert flower.last.overall == inprocess.last.overall
    assert _metric_rows(tmp_path / "flower") == _metric_rows(tmp_path / "inprocess")
    assert (tmp_path / "flower" / "report.html").is_file()
