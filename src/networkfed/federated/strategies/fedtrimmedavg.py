"""FedTrimmedAvg: the coordinate-wise trimmed mean of the sites' states [Yin et al., 2018].

The arithmetic is Flower's ``flwr.server.strategy.aggregate.aggregate_trimmed_avg``: for each
coordinate, ``int(beta * n)`` of the lowest and of the highest values are dropped and the rest
averaged (unweighted). With few sites nothing may be cut (3 sites and ``beta = 0.2`` cut
``int(0.6) = 0``), in which case it equals the plain mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from flwr.server.strategy.aggregate import aggregate_trimmed_avg
from torch import Tensor

from networkfed.federated.strategies.arrays import aggregate_per_tensor
from networkfed.federated.strategies.base import Strategy, check_options
from networkfed.federated.strategies.options import Option
from networkfed.federated.strategies.registry import register_strategy
from networkfed.federated.types import SiteUpdate

BETA = Option(
    default=0.2, low=0.0, high=0.5, high_open=True,
    help="Fraction of sites cut from each end of every coordinate before averaging.",
)
OPTIONS = {"beta": BETA}


def trimmed_mean_aggregate(updates: Sequence[SiteUpdate], beta: float) -> dict[str, Tensor]:
    """Coordinate-wise mean after cutting ``int(beta * n)`` values from each end."""
    return aggregate_per_tensor(partial(aggregate_trimmed_avg, proportiontocut=beta), updates)


@register_strategy
class FedTrimmedAvg(Strategy):
    """Average each parameter after dropping the most extreme site values."""

    name = "fedtrimmedavg"
    summary = "Coordinate-wise trimmed mean; robust to outliers, smoother than the median."
    options = OPTIONS

    def __init__(self, *, beta: float = BETA.default) -> None:
        self.beta: float
        check_options(self, beta=beta)

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        return trimmed_mean_aggregate(updates, self.beta)
