"""Adaptive Federated Optimization, shared by FedAdam, FedYogi and FedAdagrad [Reddi et al., 2021].

The server treats the FedAvg result as a pseudo-gradient step and feeds it to an adaptive
optimiser. Flower implements this as methods of stateful strategy objects bound to
``ArrayRecord`` (``flwr/serverapp/strategy/fedopt.py``: ``_compute_deltat_and_mt``, and
``aggregate_train`` in ``fedadam.py`` / ``fedyogi.py`` / ``fedadagrad.py``), which cannot be
called on plain arrays; their formulas are restated here as pure functions, term for term:

    delta_t = fedavg(updates) - x_t
    m_t     = beta_1 * m_{t-1} + (1 - beta_1) * delta_t          (m_0 = 0)
    v_t     = rule-specific second moment                        (v_0 = 0)
    x_{t+1} = x_t + eta_t * m_t / (sqrt(v_t) + tau)

Only trainable floating tensors are optimised (in float64, cast back to their dtype); integer
buffers and BatchNorm running statistics take the FedAvg value. ``eta_l`` is kept for parity
with Flower, whose arithmetic does not use it either: the local learning rate comes from the
model's training configuration.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Mapping

import torch
from torch import Tensor

from networkfed.core.errors import CheckpointError
from networkfed.federated.strategies.arrays import is_server_optimisable
from networkfed.federated.strategies.base import Strategy, check_options
from networkfed.federated.strategies.fedavg import fedavg_aggregate
from networkfed.federated.strategies.options import Option
from networkfed.federated.types import SiteUpdate

logger = logging.getLogger(__name__)

State = dict[str, Tensor]


def eta_option(default: float) -> Option:
    return Option(default=default, low=0.0, low_open=True, help="Server-side learning rate.")


def eta_l_option(default: float) -> Option:
    return Option(default=default, low=0.0, low_open=True,
                  help="Client-side learning rate (recorded, as in Flower; not used).")


def beta_option(default: float, what: str) -> Option:
    return Option(default=default, low=0.0, high=1.0, high_open=True, help=what)


def tau_option(default: float) -> Option:
    return Option(default=default, low=0.0, low_open=True,
                  help="Added to sqrt(v); controls the degree of adaptivity.")


def pseudo_gradient(global_state: Mapping[str, Tensor], aggregated: Mapping[str, Tensor]) -> State:
    """``delta_t = aggregated - x_t`` in float64, for trainable floating tensors only."""
    return {
        key: aggregated[key].double() - value.double()
        for key, value in global_state.items()
        if is_server_optimisable(key, value)
    }


def first_moment(previous: State, delta: State, beta_1: float) -> State:
    """``m_t = beta_1 * m_{t-1} + (1 - beta_1) * delta_t``, with ``m_0 = 0``."""
    return {
        key: beta_1 * previous.get(key, torch.zeros_like(d)) + (1 - beta_1) * d
        for key, d in delta.items()
    }


def adaptive_step(
    current: Mapping[str, Tensor], m: State, v: State, eta: float, tau: float
) -> State:
    """``x_{t+1} = x_t + eta * m_t / (sqrt(v_t) + tau)`` in float64."""
    return {key: current[key].double() + eta * m[key] / (torch.sqrt(v[key]) + tau) for key in m}


class FedOpt(Strategy):
    """Base of the server optimisers; a subclass supplies ``second_moment`` and ``step_size``."""

    dp_compatible = True

    def __init__(self, **options: float) -> None:
        self.eta: float
        self.eta_l: float
        self.tau: float
        self.beta_1: float = 0.0
        self.beta_2: float = 0.0
        check_options(self, **options)
        if self.eta_l != self.options["eta_l"].default:
            logger.warning("%s: eta_l is recorded for parity with Flower but not used", self.name)
        self.m_t: State = {}
        self.v_t: State = {}

    @abstractmethod
    def second_moment(self, previous: State, delta: State) -> State:
        """``v_t`` from ``v_{t-1}`` (empty before the first round) and ``delta_t``."""

    def step_size(self, round_num: int) -> float:
        """The server learning rate used in round ``round_num`` (1-based)."""
        return self.eta

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        aggregated = fedavg_aggregate(updates)
        delta = pseudo_gradient(global_state, aggregated)
        self.m_t = first_moment(self.m_t, delta, self.beta_1)
        self.v_t = self.second_moment(self.v_t, delta)
        eta = self.step_size(round_num)
        stepped = adaptive_step(global_state, self.m_t, self.v_t, eta, self.tau)
        return {
            key: stepped[key].to(value.dtype) if key in stepped else aggregated[key]
            for key, value in global_state.items()
        }

    def state_dict(self) -> dict[str, Tensor]:
        moments = {f"m_t/{key}": value for key, value in self.m_t.items()}
        moments.update({f"v_t/{key}": value for key, value in self.v_t.items()})
        return {key: value.clone() for key, value in moments.items()}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        m_t, v_t = {}, {}
        for key, value in state.items():
            prefix, _, name = key.partition("/")
            if prefix not in ("m_t", "v_t") or not name:
                raise CheckpointError("strategy state", f"unexpected {self.name} key {key!r}")
            (m_t if prefix == "m_t" else v_t)[name] = value.detach().to(torch.float64).clone()
        self.m_t, self.v_t = m_t, v_t
