"""FedAdam: Adam on the server over FedAvg pseudo-gradients [Reddi et al., 2021].

Mirrors ``flwr/serverapp/strategy/fedadam.py`` (``aggregate_train``), including its bias
correction folded into the step size: ``eta_t = eta * sqrt(1 - beta_2^(t+1)) / (1 - beta_1^(t+1))``
with ``t`` the 1-based server round.
"""

from __future__ import annotations

import numpy as np
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
    "eta": eta_option(1e-1),
    "eta_l": eta_l_option(1e-1),
    "beta_1": beta_option(0.9, "Decay of the first moment (momentum)."),
    "beta_2": beta_option(0.99, "Decay of the second moment."),
    "tau": tau_option(1e-3),
}


def adam_second_moment(previous: State, delta: State, beta_2: float) -> State:
    """``v_t = beta_2 * v_{t-1} + (1 - beta_2) * delta_t²``, with ``v_0 = 0``."""
    return {
        key: beta_2 * previous.get(key, torch.zeros_like(d)) + (1 - beta_2) * d**2
        for key, d in delta.items()
    }


@register_strategy
class FedAdam(FedOpt):
    """Server-side Adam: adapts the step per parameter; helps when site updates disagree."""

    name = "fedadam"
    summary = "Server-side Adam on the averaged update; faster, steadier convergence."
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
        return adam_second_moment(previous, delta, self.beta_2)

    def step_size(self, round_num: int) -> float:
        correction = np.sqrt(1 - np.power(self.beta_2, round_num + 1.0))
        return float(self.eta * correction / (1 - np.power(self.beta_1, round_num + 1.0)))
