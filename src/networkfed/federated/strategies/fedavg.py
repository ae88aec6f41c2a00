"""FedAvg: the example-weighted mean of the sites' states [McMahan et al., 2017].

The arithmetic is Flower's ``flwr.server.strategy.aggregate.aggregate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flwr.server.strategy.aggregate import aggregate
from torch import Tensor

from networkfed.federated.strategies.arrays import aggregate_per_tensor
from networkfed.federated.strategies.base import Strategy
from networkfed.federated.strategies.registry import register_strategy
from networkfed.federated.types import SiteUpdate


def fedavg_aggregate(updates: Sequence[SiteUpdate]) -> dict[str, Tensor]:
    """Weighted mean of every tensor, each site weighted by its ``num_examples``."""
    return aggregate_per_tensor(aggregate, updates)


@register_strategy
class FedAvg(Strategy):
    """Average the sites' models, weighted by how many examples each trained on."""

    dp_compatible = True

    name = "fedavg"
    summary = "Example-weighted average of the site models; the default baseline."

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        return fedavg_aggregate(updates)
