"""Adaptive clipping: the clip follows a quantile of the update norms [Andrew et al., 2021].

A fixed clip is a guess: too small and every update is scaled down, too large and the noise
(which grows with it) drowns the signal. Here the clip moves each round by the share ``b`` of
updates that were within it — itself noised with SD ``count_sd`` (in updates), since it is
computed from the sites' data — as ``clip *= exp(-lr * (b - target))``: more updates inside
than the target quantile shrinks it, fewer grows it. The paper counts *unclipped* updates;
Flower 1.42's wrappers count *clipped* ones with the same rule, which moves the clip the wrong
way, so only Flower's noise split (``compute_adaptive_noise_params``) is reused here.
"""

from __future__ import annotations

import math

import torch

__all__ = ["adaptive_noise", "combined_noise", "next_clip", "noisy_share"]


def adaptive_noise(noise_multiplier: float, sampled_sites: int) -> tuple[float, float]:
    """``(count_sd, update noise multiplier)`` that together spend ``noise_multiplier``.

    ``count_sd = sampled_sites / 20`` (the paper's and Flower's default) and the update's
    multiplier solves ``σ^-2 = σ_update^-2 + (2 count_sd)^-2``; it needs
    ``noise_multiplier < 2 count_sd`` (:func:`networkfed.privacy.setup.privatize` checks).
    """
    from flwr.supercore.differential_privacy import compute_adaptive_noise_params

    count_sd, update_noise = compute_adaptive_noise_params(noise_multiplier, sampled_sites, None)
    return float(count_sd), float(update_noise)


def combined_noise(update_noise: float, count_sd: float) -> float:
    """The single Gaussian mechanism's multiplier that the update and count noise amount to
    (``update_noise`` itself without a count)."""
    if count_sd <= 0:
        return update_noise
    return (update_noise ** -2 + (2 * count_sd) ** -2) ** -0.5


def noisy_share(unclipped: int, updates: int, count_sd: float,
                generator: torch.Generator) -> float:
    """The share of updates within the clip, with N(0, count_sd²) added to their count."""
    noise = float(torch.randn((), generator=generator, dtype=torch.float64)) * count_sd
    return (unclipped + noise) / updates


def next_clip(clip: float, share: float, target: float, lr: float) -> float:
    """The geometric update: towards the clip that ``target`` of the updates stay within."""
    return clip * math.exp(-lr * (share - target))
