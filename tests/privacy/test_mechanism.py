"""The Gaussian mechanism: clipping bounds every update, the noise has the promised SD."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from networkfed.federated.strategies import build_strategy
from networkfed.federated.types import SiteUpdate
from networkfed.privacy.client_dp import ClientLevelDP
from networkfed.privacy.mechanism import (
    clip_update,
    private_update,
    update_delta,
    update_norm,
)

GLOBAL = {
    "conv.weight": torch.zeros(40, 25),
    "bn.running_var": torch.ones(40),
    "bn.num_batches_tracked": torch.tensor(3),
    "fc.bias": torch.zeros(1000),
}


def _state(scale: float, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        key: value + scale * torch.randn(value.shape, generator=generator)
        if value.is_floating_point() else value + 5
        for key, value in GLOBAL.items()
    }


@settings(max_examples=60, deadline=None)
@given(scale=st.floats(1e-6, 1e4), clip=st.floats(1e-3, 1e3), seed=st.integers(0, 2**31))
def test_clipping_bounds_every_update_norm(scale: float, clip: float, seed: int) -> None:
    # Prepare
    delta = update_delta(GLOBAL, _state(scale, seed))

    # Execute
    clipped, norm = clip_update(delta, clip)

    # Assert: bounded by clip; untouched when already inside; direction kept
    assert update_norm(clipped) <= clip * (1 + 1e-9)
    assert norm == pytest.approx(update_norm(delta))
    if norm <= clip:
        assert all(torch.equal(clipped[k], delta[k]) for k in delta)
    else:
        ratio = clipped["fc.bias"] / delta["fc.bias"]
        assert torch.allclose(ratio, torch.full_like(ratio, clip / norm))


def test_the_update_leaves_out_buffers() -> None:
    # BatchNorm statistics describe the site's rows and noise would make variances negative
    delta = update_delta(GLOBAL, _state(1.0, 0))
    assert set(delta) == {"conv.weight", "fc.bias"}


def test_sent_state_is_clipped_and_keeps_dtypes_and_global_buffers() -> None:
    # Execute: a site's outgoing state under --dp-side client, no noise
    sent, clipped = private_update(GLOBAL, _state(10.0, 1), clip=0.5, sd=0.0,
                                   generator=torch.Generator().manual_seed(0))

    # Assert
    assert clipped
    assert update_norm(update_delta(GLOBAL, sent)) == pytest.approx(0.5, rel=1e-6)
    assert sent["bn.num_batches_tracked"].dtype == torch.int64
    assert torch.equal(sent["bn.num_batches_tracked"], GLOBAL["bn.num_batches_tracked"])
    assert torch.equal(sent["bn.running_var"], GLOBAL["bn.running_var"])


def _wrapper(side: str, sigma: float, clip: float, sampled: int) -> ClientLevelDP:
    return ClientLevelDP(build_strategy("fedavg"), clip=clip, noise_multiplier=sigma,
                         sample_rate=1.0, sampled_sites=sampled, delta=1e-5, side=side, seed=3)


@pytest.mark.parametrize("k", [3, 10])
def test_server_noise_sd_is_multiplier_times_clip_over_sites(k: int) -> None:
    # Prepare: k sites whose updates are all inside the clip (so the mean is known exactly)
    sigma, clip = 1.3, 2.0
    updates = [SiteUpdate(f"s{i}", _state(1e-4, i), num_examples=10 * (i + 1)) for i in range(k)]
    expected_mean = {key: sum(update_delta(GLOBAL, u.state)[key] for u in updates) / k
                     for key in ("conv.weight", "fc.bias")}

    # Execute
    result = _wrapper("server", sigma, clip, k).aggregate_fit(1, GLOBAL, updates)

    # Assert: residual = the noise; its SD is sigma * clip / k (2,000 coordinates: within 5 %)
    delta = update_delta(GLOBAL, result)
    noise = torch.cat([(delta[key] - expected_mean[key]).reshape(-1) for key in expected_mean])
    assert float(noise.std()) == pytest.approx(sigma * clip / k, rel=0.05)
    assert abs(float(noise.mean())) < 4 * sigma * clip / k / math.sqrt(noise.numel())


def test_client_side_shares_add_up_to_the_server_noise() -> None:
    # Prepare: each site clips and adds its share sigma * clip / sqrt(k) (as local training does)
    sigma, clip, k = 2.0, 1.0, 8
    dp = _wrapper("client", sigma, clip, k)
    config = dp.configure_fit(1)
    sent = [
        SiteUpdate(f"s{i}", private_update(GLOBAL, _state(1e-6, i), config["dp_clip"],
                                           config["dp_noise_sd"],
                                           torch.Generator().manual_seed(i))[0], 5)
        for i in range(k)
    ]

    # Execute
    delta = update_delta(GLOBAL, dp.aggregate_fit(1, GLOBAL, sent))

    # Assert: the average of the shares carries noise of SD sigma * clip / k, as server-side
    noise = torch.cat([d.reshape(-1) for d in delta.values()])
    assert config["dp_noise_sd"] == pytest.approx(sigma * clip / math.sqrt(k))
    assert float(noise.std()) == pytest.approx(sigma * clip / k, rel=0.05)
    assert dp.privacy_spent()["round_noise_sd"] == pytest.approx(sigma * clip / k)


def test_noise_is_seeded_by_round() -> None:
    updates = [SiteUpdate(f"s{i}", _state(0.1, i), 1) for i in range(3)]
    first = _wrapper("server", 1.0, 1.0, 3).aggregate_fit(2, GLOBAL, updates)
    again = _wrapper("server", 1.0, 1.0, 3).aggregate_fit(2, GLOBAL, updates)
    other = _wrapper("server", 1.0, 1.0, 3).aggregate_fit(3, GLOBAL, updates)
    assert torch.equal(first["fc.bias"], again["fc.bias"])
    assert not torch.equal(first["fc.bias"], other["fc.bias"])
