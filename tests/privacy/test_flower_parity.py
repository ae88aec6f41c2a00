"""Client-level DP does Flower's arithmetic, and the Flower engine gives the in-process result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from flwr.supercore.differential_privacy import compute_clip_model_update, compute_stdv

from networkfed.api import run_federated
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.privacy.mechanism import apply_delta, clip_update, update_delta


@pytest.mark.parametrize("scale", [1e-3, 0.1, 10.0])
def test_clipping_is_flowers(scale: float) -> None:
    # Prepare: a global model and a site's trained one, as Flower's NDArrays and as a state
    rng = np.random.default_rng(0)
    shapes = {"a": (20, 7), "b": (7,), "c": (3, 4, 5)}
    old = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    new = {k: v + scale * rng.normal(size=v.shape).astype(np.float32) for k, v in old.items()}
    theirs = [new[k].astype(np.float64) for k in shapes]

    # Execute: Flower's DifferentialPrivacy*FixedClipping arithmetic, and ours
    compute_clip_model_update(theirs, [old[k].astype(np.float64) for k in shapes], 0.5)
    global_state = {k: torch.from_numpy(v) for k, v in old.items()}
    clipped, _ = clip_update(update_delta(global_state, {k: torch.from_numpy(v)
                                                         for k, v in new.items()}), 0.5)
    ours = apply_delta(global_state, clipped)

    # Assert
    for key, value in zip(shapes, theirs, strict=True):
        np.testing.assert_allclose(ours[key].numpy(), value.astype(np.float32), rtol=0,
                                   atol=1e-6)


def test_noise_sd_formula_is_flowers() -> None:
    from networkfed.federated.strategies import build_strategy
    from networkfed.federated.types import SiteUpdate
    from networkfed.privacy.client_dp import ClientLevelDP

    dp = ClientLevelDP(build_strategy("fedavg"), clip=0.7, noise_multiplier=1.9,
                       sample_rate=1.0, sampled_sites=4, delta=1e-5, side="server", seed=0)
    state = {"w": torch.zeros(5)}
    dp.aggregate_fit(1, state, [SiteUpdate(f"s{i}", {"w": torch.ones(5)}, 1) for i in range(4)])
    assert dp.privacy_spent()["round_noise_sd"] == pytest.approx(compute_stdv(1.9, 0.7, 4))


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.flower
@pytest.mark.slow
def test_flower_engine_gives_the_in_process_dp_run(tmp_path: Path) -> None:
    # Prepare: client-side DP, so the clip and noise travel to Flower's sites in the round's
    # instructions (server-side DP is the same wrapper object on both engines)
    config = RunConfig(data=DataConfig(rows_per_site=200), rounds=2, local_epochs=1, seed=9,
                       workers=0, model="lstm", dp="client", dp_clip=0.5, dp_noise=0.8,
                       dp_side="client")

    # Execute
    inprocess = run_federated(config, run_dir=tmp_path / "inprocess")
    flower = run_federated(config.model_copy(update={"engine": "flower"}),
                           run_dir=tmp_path / "flower")

    # Assert: the same ε and the same metrics every round
    assert flower.privacy == inprocess.privacy
    assert flower.privacy["epsilon"] > 0
    assert _rows(tmp_path / "flower") == _rows(tmp_path / "inprocess")
