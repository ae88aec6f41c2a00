"""The run's ε is Opacus' own for the schedule run, and survives a save and load."""

from __future__ import annotations

import pytest
import torch
from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent
from opacus.accountants.rdp import RDPAccountant
from safetensors.torch import load, save

from networkfed.core.errors import CheckpointError, ConfigError
from networkfed.federated.strategies import build_strategy
from networkfed.privacy.accounting import PrivacyAccountant, solve_noise_multiplier
from networkfed.privacy.client_dp import ClientLevelDP

# A known schedule: 4 rounds at sigma 1.1 with all sites, then 6 with 3 of 10 sites at sigma 0.9
SCHEDULE = [(1.1, 1.0)] * 4 + [(0.9, 0.3)] * 6
DELTA = 1e-5


def _by_hand() -> float:
    """ε of SCHEDULE from Opacus' RDP analysis functions directly (no accountant object)."""
    orders = RDPAccountant.DEFAULT_ALPHAS
    rdp = sum(compute_rdp(q=q, noise_multiplier=s, steps=1, orders=orders) for s, q in SCHEDULE)
    epsilon, _ = get_privacy_spent(orders=orders, rdp=rdp, delta=DELTA)
    return float(epsilon)


def test_epsilon_equals_the_library_for_a_known_schedule() -> None:
    # Execute
    accountant = PrivacyAccountant(DELTA)
    for sigma, rate in SCHEDULE:
        accountant.step(sigma, rate)

    # Assert
    assert accountant.rounds == len(SCHEDULE)
    assert accountant.epsilon() == pytest.approx(_by_hand(), rel=1e-12)
    assert PrivacyAccountant(DELTA).epsilon() == 0.0


def test_state_survives_safetensors_and_continues_the_same_epsilon() -> None:
    # Prepare: half the schedule, saved as a checkpoint would save it
    before = PrivacyAccountant(DELTA)
    for sigma, rate in SCHEDULE[:5]:
        before.step(sigma, rate)
    saved = load(save(before.state_dict()))

    # Execute: a new process loads it and runs the rest
    after = PrivacyAccountant(DELTA)
    after.load_state_dict(saved)
    for sigma, rate in SCHEDULE[5:]:
        after.step(sigma, rate)

    # Assert
    assert after.epsilon() == pytest.approx(_by_hand(), rel=1e-12)


def test_wrapper_state_holds_inner_state_and_accountant() -> None:
    # Prepare: FedAdam keeps moments; the wrapper must keep them beside the ledger
    dp = ClientLevelDP(build_strategy("fedadam"), clip=1.0, noise_multiplier=1.0,
                       sample_rate=1.0, sampled_sites=3, delta=DELTA, side="server", seed=0)
    dp.inner.m_t = {"w": torch.ones(2, dtype=torch.float64)}
    dp.accountant.step(1.0, 1.0)

    # Execute
    again = ClientLevelDP(build_strategy("fedadam"), clip=1.0, noise_multiplier=1.0,
                          sample_rate=1.0, sampled_sites=3, delta=DELTA, side="server", seed=0)
    again.load_state_dict(load(save(dp.state_dict())))

    # Assert
    assert torch.equal(again.inner.m_t["w"], dp.inner.m_t["w"])
    assert again.privacy_spent()["epsilon"] == dp.privacy_spent()["epsilon"] > 0
    with pytest.raises(CheckpointError, match="same --dp options"):
        again.load_state_dict({})


def test_solved_noise_meets_the_target() -> None:
    # Execute
    sigma = solve_noise_multiplier(2.0, DELTA, sample_rate=0.5, rounds=10)

    # Assert: within the target, and not much more noise than needed
    accountant = PrivacyAccountant(DELTA)
    for _ in range(10):
        accountant.step(sigma, 0.5)
    assert 1.95 < accountant.epsilon() <= 2.0


def test_unreachable_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dp-epsilon"):
        solve_noise_multiplier(1e-9, DELTA, sample_rate=1.0, rounds=10**6)
