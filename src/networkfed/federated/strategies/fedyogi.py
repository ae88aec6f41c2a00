"""FedYogi: Yogi on the server over FedAvg pseudo-gradients [Reddi et al., 2021].

Mirrors ``flwr/serverapp/strategy/fedyogi.py`` (``aggregate_train``): the second moment moves
towards ``delta²`` additively, by at most ``(1 - beta_2) * delta²`` per round, so a single
large update cannot shrink the step size abruptly as in Adam. No bias correction.
"""

from __future__ import annotations

import torch

from networkfed.federated.strategies.fedopt import (
    FedOpt,
    State,
    beta_option,
    eta_l_option,
    eta_option,
    tau_option,
)
from networkfed.federated.strategies.registry import register_strategy

OPTIONS = {
    "eta": eta_option(1e-2),
    "eta_l": eta_l_option(0.0316),
    "beta_1": beta_option(0.9, "Decay of the first moment (momentum)."),
    "beta_2": beta_option(0.99, "Decay of the second moment."),
    "tau": tau_option(1e-3),
}


def yogi_second_moment(previous: State, delta: State, beta_2: float) -> State:
    """``v_t = v_{t-1} - (1 - beta_2) * delta² * sign(v_{t-1} - delta²)``, with ``v_0 = 0``."""
    updated = {}
    for key, d in delta.items():
        v = previous.get(key, torch.zeros_like(d))
        updated[key] = v - (1.0 - beta_2) * d**2 * torch.sign(v - d**2)
    return updated


@register_strategy
class FedYogi(FedOpt):
    """Server-side Yogi: like FedAdam but its adaptivity changes more gently."""

    name = "fedyogi"
    summary = "Server-side Yogi; like FedAdam with gentler adaptivity, for noisy sites."
    options = OPTIONS

    def __init__(
        self,
        *,
        eta: float = OPTIONS["eta"].default,
        eta_l: float = OPTIONS["eta_l"].default,
        beta_1: float = OPTIONS["beta_1"].default,
        beta_2: float = OPTIONS["beta_2"].default,
        tau: float = OPTIONS["tau"].default,
    ) -> None:
        super().__init__(eta=eta, eta_l=eta_l, beta_1=beta_1, beta_2=beta_2, tau=tau)

    def second_moment(self, previous: State, delta: State) -> State:
        return yogi_second_moment(previous, delta, self.beta_2)
