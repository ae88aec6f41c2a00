"""Client-level DP-FedAvg as a wrapper around a strategy [McMahan et al., 2018].

As Flower's ``DifferentialPrivacyServerSideFixedClipping`` / ``...ClientSideFixedClipping``
(``flwr/serverapp/strategy/dp_fixed_clipping.py``), privacy is added by wrapping the chosen
strategy, not by subclassing it. One round:

1. every site's update is clipped to L2 norm ``clip`` (here on the server, or by each site
   under ``side="client"``, which then also adds its share of the noise);
2. the clipped updates are averaged *unweighted* — an example-weighted mean would let a
   large site move the average by more than ``clip / k``, the sensitivity the noise assumes;
3. Gaussian noise of SD ``noise_multiplier * clip / k`` is added (k: updates aggregated);
4. the noised average is handed to the wrapped strategy as a single update, so FedAvg keeps
   it and a server optimiser (FedAdam, FedAvgM, ...) post-processes it — post-processing
   cannot weaken a DP guarantee;
5. the accountant composes the round at the sampling rate ``sampled sites / all sites``;
6. with a ``target_quantile``, the clip follows that quantile of the update norms (adaptive
   clipping, Andrew et al. 2021): the share of unclipped updates, itself noised, moves it by
   ``clip *= exp(-clip_lr * (share - target))``. Part of the budget then goes to that count:
   the updates get the noise multiplier Flower's ``compute_adaptive_noise_params`` leaves for
   them, and the accountant composes the combined mechanism at the configured multiplier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import Tensor

from networkfed.core.errors import CheckpointError
from networkfed.federated.local_training import site_seed
from networkfed.federated.strategies import Strategy
from networkfed.federated.types import SiteUpdate
from networkfed.privacy.accounting import HISTORY_KEY, PrivacyAccountant
from networkfed.privacy.adaptive_clip import (
    adaptive_noise,
    combined_noise,
    next_clip,
    noisy_share,
)
from networkfed.privacy.mechanism import add_noise, apply_delta, clip_update, update_delta

__all__ = ["ClientLevelDP"]

_INNER = "inner/"
_DP = "dp/"


class ClientLevelDP(Strategy):
    """Clip, average, noise and account around ``inner``.

    Parameters
    ----------
    inner
        The wrapped strategy; only rules that post-process the average may be wrapped
        (``Strategy.dp_compatible``; checked by :func:`networkfed.privacy.setup.privatize`).
    clip
        The L2 bound of one site's update.
    noise_multiplier
        Noise SD in units of the sensitivity ``clip / k``.
    sample_rate
        Sites sampled per round over all sites (the accountant's sampling rate).
    sampled_sites
        Sites sampled per round; under ``side="client"`` each adds noise of SD
        ``noise_multiplier * clip / sqrt(sampled_sites)``, so the average of all of them
        carries exactly the server-side noise.
    delta, side, seed
        The δ of the reported ε; where clipping and noise happen; the noise's seed.
    target_quantile, clip_lr
        Adaptive clipping (``None``: the clip stays fixed) and its step size.
    """

    name = "dp-client"
    summary = "Client-level DP-FedAvg around another strategy."
    dp_compatible = True

    def __init__(
        self, inner: Strategy, *, clip: float, noise_multiplier: float, sample_rate: float,
        sampled_sites: int, delta: float, side: Literal["server", "client"], seed: int,
        target_quantile: float | None = None, clip_lr: float = 0.2,
    ) -> None:
        self.inner, self.clip, self.noise_multiplier = inner, float(clip), float(noise_multiplier)
        self.sample_rate, self.sampled_sites = float(sample_rate), int(sampled_sites)
        self.side, self.seed = side, int(seed)
        self.target_quantile, self.clip_lr = target_quantile, float(clip_lr)
        self.count_sd, self.update_noise = 0.0, self.noise_multiplier
        if target_quantile is not None:
            self.count_sd, self.update_noise = adaptive_noise(noise_multiplier, sampled_sites)
        self.accountant = PrivacyAccountant(delta)
        self.last: dict[str, float] = {}
        """What the last round did: its effective noise, noise SD, share of updates clipped."""

    def site_noise_sd(self) -> float:
        """Each site's share of the noise under ``side="client"`` (0 on the server side)."""
        if self.side != "client":
            return 0.0
        return self.update_noise * self.clip / math.sqrt(self.sampled_sites)

    def configure_fit(self, round_num: int) -> dict[str, float | int | str]:
        """The wrapped rule's settings; under ``side="client"`` also the clip and each site's
        noise SD, which the sites apply to their own update."""
        config = self.inner.configure_fit(round_num)
        if self.side == "client":
            config = {**config, "dp_clip": self.clip, "dp_noise_sd": self.site_noise_sd()}
        return config

    def precondition(self, num_updates: int) -> str | None:
        return self.inner.precondition(num_updates)

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        k = len(updates)
        deltas, unclipped = self._clip(global_state, updates)  # 1. clip
        mean = {key: sum(d[key] for d in deltas) / k for key in deltas[0]}  # 2. unweighted
        # 3. noise, seeded by round: a resumed run draws the same
        generator = torch.Generator().manual_seed(
            site_seed(self.seed, "<server>", round_num, "dp-noise"))
        if self.side == "server":
            update_noise = self.update_noise
            mean = add_noise(mean, update_noise * self.clip / k, generator)
        else:  # k of the sampled sites' shares arrived: sd = sigma*clip/sqrt(m*k)
            update_noise = self.update_noise * math.sqrt(k / self.sampled_sites)
        effective = combined_noise(update_noise, self.count_sd)
        self.accountant.step(effective, self.sample_rate)  # 5. account for the round
        self._record(effective, update_noise * self.clip / k, unclipped)
        noised = SiteUpdate("<dp-average>", apply_delta(global_state, mean), num_examples=1)
        if self.target_quantile is not None:  # 6. the next round's clip
            share = noisy_share(sum(unclipped), k, self.count_sd, generator)
            self.clip = next_clip(self.clip, share, self.target_quantile, self.clip_lr)
        return self.inner.aggregate(round_num, global_state, [noised])  # 4. post-process

    def _clip(
        self, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> tuple[list[dict[str, Tensor]], list[bool]]:
        """The clipped updates and which were within the clip (sites clip their own under
        ``side="client"`` and say whether they had to)."""
        deltas, unclipped = [], []
        for update in updates:
            delta = update_delta(global_state, update.state)
            if self.side == "server":
                delta, norm = clip_update(delta, self.clip)
                unclipped.append(norm <= self.clip)
            else:
                unclipped.append(not update.metrics.get("dp_clipped", 0.0))
            deltas.append(delta)
        return deltas, unclipped

    def _record(self, effective: float, noise_sd: float, unclipped: list[bool]) -> None:
        self.last = {
            "round_noise_multiplier": effective,
            "round_noise_sd": noise_sd,
            "round_clip": self.clip,
            "clipped_fraction": 1.0 - sum(unclipped) / len(unclipped),
        }

    def privacy_spent(self) -> dict[str, Any]:
        """The settings and the ε spent so far (rounds 0 to the last aggregated), for
        ``metrics.jsonl``, ``summary.json``, checkpoints and the report."""
        return {"mode": "client", "side": self.side, "epsilon": self.accountant.epsilon(),
                "delta": self.accountant.delta, "rounds_accounted": self.accountant.rounds,
                "noise_multiplier": self.noise_multiplier, "clip": self.clip,
                "sample_rate": self.sample_rate, **self.last}

    def state_dict(self) -> dict[str, Tensor]:
        state = {_INNER + key: value for key, value in self.inner.state_dict().items()}
        state.update({_DP + key: value for key, value in self.accountant.state_dict().items()})
        state[_DP + "clip"] = torch.tensor(self.clip, dtype=torch.float64)  # adaptive: moves
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        inner = {k[len(_INNER):]: v for k, v in state.items() if k.startswith(_INNER)}
        own = {k[len(_DP):]: v for k, v in state.items() if k.startswith(_DP)}
        unknown = sorted(set(state) - {_INNER + k for k in inner} - {_DP + k for k in own})
        if unknown or HISTORY_KEY not in own:
            raise CheckpointError("strategy state", "not a client-level DP state (keys "
                                  f"{sorted(state)[:5]}): resume with the same --dp options")
        self.inner.load_state_dict(inner)
        self.accountant.load_state_dict(own)
        if "clip" in own:
            self.clip = float(own["clip"])

    def get_options(self) -> dict[str, Any]:
        return {"inner": self.inner.name, "clip": self.clip,
                "noise_multiplier": self.noise_multiplier, "side": self.side,
                "target_quantile": self.target_quantile}
