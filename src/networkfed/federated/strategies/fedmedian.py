"""FedMedian: the coordinate-wise median of the sites' states [Yin et al., 2018].

The arithmetic is Flower's ``flwr.server.strategy.aggregate.aggregate_median``. With an even
number of sites the median is the mean of the two middle values (``np.median``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flwr.server.strategy.aggregate import aggregate_median
from torch import Tensor

from networkfed.federated.strategies.arrays import aggregate_per_tensor
from networkfed.federated.strategies.base import Strategy
from networkfed.federated.strategies.registry import register_strategy
from networkfed.federated.types import SiteUpdate


def median_aggregate(updates: Sequence[SiteUpdate]) -> dict[str, Tensor]:
    """Coordinate-wise median; example counts are ignored, so one large site cannot dominate."""
    return aggregate_per_tensor(aggregate_median, updates)


@register_strategy
class FedMedian(Strategy):
    """Take each parameter's median over sites: robust to a minority of corrupted updates."""

    name = "fedmedian"
    summary = "Coordinate-wise median; robust to a few faulty or hostile sites."

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        return median_aggregate(updates)
