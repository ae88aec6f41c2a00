"""An attacked run on Flower's simulation engine equals the in-process one, seed for seed.

Label-flip is the attack that crosses the wire: the flag travels in the training message and
the site flips its own labels in the ``ClientApp``. The other attacks rewrite updates in the
round loop, which is the same object (``InProcessEngine``) on both engines.
"""

from __future__ import annotations

import json

import pytest
import torch

from networkfed.api import run_federated
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.models import ModelManager

pytestmark = [pytest.mark.flower, pytest.mark.slow]


def test_attacked_flower_simulation_matches_the_in_process_engine(tmp_path):
    # Prepare
    config = RunConfig(data=DataConfig(rows_per_site=300), rounds=2, local_epochs=1, seed=5,
                       workers=0, attack="label-flip", attackers=1)
    # Execute
    inprocess = run_federated(config, run_dir=tmp_path / "inprocess")
    flower = run_federated(config.model_copy(update={"engine": "flower"}),
                           run_dir=tmp_path / "flower")
    # Assert: same attackers, same final parameters, same metrics every round
    assert flower.attack == inprocess.attack and len(flower.attack["attackers"]) == 1
    ours, _ = ModelManager(tmp_path / "flower" / "checkpoints").get_snapshot("global", 2)
    theirs, _ = ModelManager(tmp_path / "inprocess" / "checkpoints").get_snapshot("global", 2)
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=1e-5)
    assert flower.last.overall == inprocess.last.overall
    rows = [(tmp_path / name / "metrics.jsonl").read_text().splitlines()
            for name in ("flower", "inprocess")]
    assert [json.loads(r) for r in rows[0]] == [json.loads(r) for r in rows[1]]
