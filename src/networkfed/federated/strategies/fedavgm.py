"""FedAvgM: server-side SGD with momentum over FedAvg pseudo-gradients [Hsu et al., 2019].

Mirrors ``flwr/serverapp/strategy/fedavgm.py`` (``aggregate_train``), which follows
``torch.optim.SGD``'s convention:

    g_t = x_t - fedavg(updates)                     (updates are the opposite of gradients)
    b_t = g_t in the first round, else momentum * b_{t-1} + g_t
    x_{t+1} = x_t - server_learning_rate * b_t      (b_t = g_t when momentum is 0)

With the defaults (learning rate 1, momentum 0) it is exactly FedAvg, as in Flower. Only
trainable floating tensors are optimised (in float64, cast back); integer buffers and
BatchNorm running statistics take the FedAvg value.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from networkfed.core.errors import CheckpointError
from networkfed.federated.strategies.arrays import is_server_optimisable
from networkfed.federated.strategies.base import Strategy, check_options
from networkfed.federated.strategies.fedavg import fedavg_aggregate
from networkfed.federated.strategies.options import Option
from networkfed.federated.strategies.registry import register_strategy
from networkfed.federated.types import SiteUpdate

State = dict[str, Tensor]

OPTIONS = {
    "server_learning_rate": Option(default=1.0, low=0.0, low_open=True,
                                   help="Server SGD step on the averaged update."),
    "server_momentum": Option(default=0.0, low=0.0, high=1.0, high_open=True,
                              help="Server momentum; 0 disables it."),
}


def momentum_step(
    global_state: Mapping[str, Tensor], aggregated: Mapping[str, Tensor], buffer: State,
    learning_rate: float, momentum: float,
) -> tuple[State, State]:
    """One server SGD step on the floating tensors; returns ``(new values, momentum buffer)``."""
    new_values, new_buffer = {}, {}
    for key, value in global_state.items():
        if not is_server_optimisable(key, value):
            continue
        current = value.double()
        step = current - aggregated[key].double()
        if momentum > 0.0:
            step = step if key not in buffer else momentum * buffer[key] + step
            new_buffer[key] = step
        new_values[key] = current - learning_rate * step
    return new_values, new_buffer


@register_strategy
class FedAvgM(Strategy):
    """FedAvg with a server learning rate and momentum: smooths rounds of very different sites."""

    dp_compatible = True

    name = "fedavgm"
    summary = "FedAvg with server momentum; steadier when sites' data differ a lot."
    options = OPTIONS

    def __init__(
        self,
        *,
        server_learning_rate: float = OPTIONS["server_learning_rate"].default,
        server_momentum: float = OPTIONS["server_momentum"].default,
    ) -> None:
        self.server_learning_rate: float
        self.server_momentum: float
        check_options(
            self, server_learning_rate=server_learning_rate, server_momentum=server_momentum
        )
        self.momentum_vector: State = {}

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        aggregated = fedavg_aggregate(updates)
        if self.server_learning_rate == 1.0 and self.server_momentum == 0.0:
            return aggregated  # Flower's ``server_opt`` is off: plain FedAvg
        stepped, self.momentum_vector = momentum_step(
            global_state, aggregated, self.momentum_vector,
            self.server_learning_rate, self.server_momentum,
        )
        return {
            key: stepped[key].to(value.dtype) if key in stepped else aggregated[key]
            for key, value in global_state.items()
        }

    def state_dict(self) -> dict[str, Tensor]:
        return {f"momentum/{key}": value.clone() for key, value in self.momentum_vector.items()}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        buffer = {}
        for key, value in state.items():
            prefix, _, name = key.partition("/")
            if prefix != "momentum" or not name:
                raise CheckpointError("strategy state", f"unexpected fedavgm key {key!r}")
            buffer[name] = value.detach().to(torch.float64).clone()
        self.momentum_vector = buffer
