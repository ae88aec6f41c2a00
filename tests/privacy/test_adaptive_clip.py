"""Adaptive clipping: the clip finds the target quantile of the update norms, survives a
resume, and is refused where the sites cannot pay for counting."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load, save

from networkfed.core.errors import ConfigError
from networkfed.federated.strategies import build_strategy
from networkfed.federated.types import SiteUpdate
from networkfed.privacy.adaptive_clip import adaptive_noise, combined_noise
from networkfed.privacy.client_dp import ClientLevelDP
from tiny_runs import make_run

GLOBAL = {"w": torch.zeros(50)}


def _updates(round_num: int, sites: int) -> list[SiteUpdate]:
    """Update norms spread evenly over (0, 10]: their median is 5."""
    generator = torch.Generator().manual_seed(round_num)
    updates = []
    for i in range(sites):
        direction = torch.randn(50, generator=generator)
        norm = 10.0 * (i + 1) / sites
        updates.append(SiteUpdate(f"s{i:03d}", {"w": direction / direction.norm() * norm}, 1))
    return updates


def _dp(side: str = "server") -> ClientLevelDP:
    return ClientLevelDP(build_strategy("fedavg"), clip=0.5, noise_multiplier=1.0,
                         sample_rate=1.0, sampled_sites=100, delta=1e-5, side=side, seed=0,
                         target_quantile=0.5)


def test_clip_moves_to_the_target_quantile_of_the_norms() -> None:
    # Execute: 60 rounds from a clip of 0.5, target: the median norm (5)
    dp = _dp()
    for round_num in range(1, 61):
        dp.aggregate_fit(round_num, GLOBAL, _updates(round_num, 100))

    # Assert
    assert 4.0 < dp.clip < 6.0
    assert 0.35 < dp.privacy_spent()["clipped_fraction"] < 0.65


def test_budget_is_split_between_updates_and_the_count() -> None:
    count_sd, update_noise = adaptive_noise(1.0, 100)
    assert count_sd == 5.0 and update_noise > 1.0
    assert combined_noise(update_noise, count_sd) == pytest.approx(1.0)
    dp = _dp()
    dp.aggregate_fit(1, GLOBAL, _updates(1, 100))
    assert dp.privacy_spent()["round_noise_multiplier"] == pytest.approx(1.0)


def test_client_side_counts_what_sites_report() -> None:
    dp = _dp("client")
    updates = [SiteUpdate(f"s{i}", {"w": torch.zeros(50)}, 1, {"dp_clipped": float(i < 70)})
               for i in range(100)]
    dp.aggregate_fit(1, GLOBAL, updates)
    assert dp.privacy_spent()["clipped_fraction"] == pytest.approx(0.7)
    assert dp.clip > 0.5  # most were clipped: the clip grows


def test_resume_restores_the_moved_clip() -> None:
    dp = _dp()
    for round_num in range(1, 6):
        dp.aggregate_fit(round_num, GLOBAL, _updates(round_num, 100))
    again = _dp()
    again.load_state_dict(load(save(dp.state_dict())))
    assert again.clip == dp.clip != 0.5
    assert again.privacy_spent()["epsilon"] == dp.privacy_spent()["epsilon"]


def test_too_few_sites_for_adaptive_clipping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sites/10 = 0\.3"):
        make_run(tmp_path / "run", dp="client", dp_clip=1.0, dp_noise=0.5,
                 dp_clip_quantile=0.5)
    assert not (tmp_path / "run").exists()
