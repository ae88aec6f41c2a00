"""The Gaussian mechanism on model updates: clip each site's update, add calibrated noise.

Pure functions on ``state_dict``-shaped tensors, used by the server-side wrapper
(:class:`networkfed.privacy.client_dp.ClientLevelDP`) and by each site under
``--dp-side client`` (:meth:`networkfed.federated.local_training.SiteTrainer.fit`), so both
sides do the same arithmetic.

The *update* is ``state - global_state`` over the model's floating weights. Buffers are not
part of it and keep the global value, so the server learns nothing from them: BatchNorm's
running statistics are estimates of the site's rows (sharing them un-noised would leak them,
and noise drives ``running_var`` negative and the model to NaN), ``num_batches_tracked`` counts
its batches. Under DP a model with BatchNorm should keep those layers at the sites
(``--fedbn``), or use a model without them (the LSTM).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

RUNNING_STATISTICS = ("running_mean", "running_var")
"""BatchNorm's data statistics (as ``networkfed.federated.strategies.arrays`` names them)."""

__all__ = [
    "add_noise", "apply_delta", "clip_update", "private_update", "update_delta", "update_norm",
]


def update_delta(global_state: Mapping[str, Tensor], state: Mapping[str, Tensor]
                 ) -> dict[str, Tensor]:
    """``state - global_state`` in float64 for the floating weights (the update)."""
    return {
        key: state[key].detach().double() - value.detach().double()
        for key, value in global_state.items()
        if value.is_floating_point() and not key.endswith(RUNNING_STATISTICS)
    }


def update_norm(delta: Mapping[str, Tensor]) -> float:
    """The L2 norm of a whole update (all its tensors as one vector)."""
    return math.sqrt(sum(float(torch.sum(d * d)) for d in delta.values()))


def clip_update(delta: Mapping[str, Tensor], clip: float) -> tuple[dict[str, Tensor], float]:
    """Scale ``delta`` to L2 norm at most ``clip``; return it and its norm before clipping.

    Clipping bounds what one site can change in the sum (its sensitivity) by ``clip``, which
    is what the noise is calibrated to.
    """
    norm = update_norm(delta)
    factor = min(1.0, clip / norm) if norm > 0 else 1.0
    return {key: d * factor for key, d in delta.items()}, norm


def add_noise(delta: Mapping[str, Tensor], sd: float, generator: torch.Generator
              ) -> dict[str, Tensor]:
    """``delta`` plus independent N(0, sd²) noise on every coordinate (float64, seeded)."""
    if sd <= 0:
        return dict(delta)
    return {
        key: d + sd * torch.randn(d.shape, generator=generator, dtype=torch.float64)
        for key, d in delta.items()
    }


def apply_delta(global_state: Mapping[str, Tensor], delta: Mapping[str, Tensor]
                ) -> dict[str, Tensor]:
    """``global_state + delta`` in each tensor's own dtype (tensors without a delta: as they
    are in ``global_state``)."""
    return {
        key: (value.double() + delta[key]).to(value.dtype) if key in delta else value.clone()
        for key, value in global_state.items()
    }


def private_update(
    global_state: Mapping[str, Tensor], state: Mapping[str, Tensor], clip: float, sd: float,
    generator: torch.Generator,
) -> tuple[dict[str, Tensor], bool]:
    """What a site sends under ``--dp-side client``: its clipped update plus its share of the
    noise, as a full state (the server never sees the raw update), and whether clipping
    changed it (what adaptive clipping counts)."""
    clipped, norm = clip_update(update_delta(global_state, state), clip)
    return apply_delta(global_state, add_noise(clipped, sd, generator)), norm > clip
