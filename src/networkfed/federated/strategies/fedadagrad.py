"""FedAdagrad: Adagrad on the server over FedAvg pseudo-gradients [Reddi et al., 2021].

Mirrors ``flwr/serverapp/strategy/fedadagrad.py`` (``aggregate_train``): ``beta_1 = 0`` so
``m_t = delta_t``, and ``v_t = v_{t-1} + delta_t²`` accumulates forever, so steps shrink over
rounds. No bias correction.
"""

from __future__ import annotations

import torch

from networkfed.federated.strategies.fedopt import (
    FedOpt,
    State,
    eta_l_option,
    eta_option,
    tau_option,
)
from networkfed.federated.strategies.registry import register_strategy

OPTIONS = {"eta": eta_option(1e-1), "eta_l": eta_l_option(1e-1), "tau": tau_option(1e-3)}


def adagrad_second_moment(previous: State, delta: State) -> State:
    """``v_t = v_{t-1} + delta_t²``, with ``v_0 = 0``."""
    return {key: previous.get(key, torch.zeros_like(d)) + d**2 for key, d in delta.items()}


@register_strategy
class FedAdagrad(FedOpt):
    """Server-side Adagrad: per-parameter steps that shrink as updates accumulate."""

    name = "fedadagrad"
    summary = "Server-side Adagrad; per-parameter steps that shrink over rounds."
    options = OPTIONS

    def __init__(
        self,
        *,
        eta: float = OPTIONS["eta"].default,
        eta_l: float = OPTIONS["eta_l"].default,
        tau: float = OPTIONS["tau"].default,
    ) -> None:
        super().__init__(eta=eta, eta_l=eta_l, tau=tau)

    def second_moment(self, previous: State, delta: State) -> State:
        return adagrad_second_moment(previous, delta)
