"""Bulyan: Krum picks, then a trimmed mean around the median [El Mhamdi et al., 2018].

The arithmetic is Flower's ``flwr.server.strategy.aggregate.aggregate_bulyan`` with
``aggregate_krum`` as its selection rule: ``theta = n - 2f`` updates are chosen one at a time
by Krum (each removed from the pool once chosen), and every coordinate of the result is the
mean of the ``beta = theta - 2f`` chosen values closest to the chosen values' median. It needs
``n >= 4f + 3`` updates. Only floating tensors go through it (as in
:mod:`~networkfed.federated.strategies.krum`, an integer step counter would dominate Krum's
distances); integer buffers take the example-weighted mean of all updates, rounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from flwr.server.strategy.aggregate import aggregate, aggregate_bulyan, aggregate_krum
from torch import Tensor

from networkfed.federated.strategies.arrays import aggregate_per_tensor, cast_like, to_ndarrays
from networkfed.federated.strategies.base import Strategy, check_options
from networkfed.federated.strategies.krum import NUM_MALICIOUS
from networkfed.federated.strategies.registry import register_strategy
from networkfed.federated.types import SiteUpdate

OPTIONS = {"num_malicious_clients": NUM_MALICIOUS}


def bulyan_aggregate(updates: Sequence[SiteUpdate], num_malicious: int) -> dict[str, Tensor]:
    """Flower's Bulyan over the floating tensors; integer buffers averaged (see the module)."""
    template = updates[0].state
    floats = [key for key, value in template.items() if value.is_floating_point()]
    results = [(to_ndarrays(u.state, floats), u.num_examples) for u in updates]
    chosen: list[np.ndarray] = aggregate_bulyan(list(results), num_malicious, aggregate_krum,
                                                to_keep=0)
    aggregated = {key: cast_like(values, template[key])
                  for key, values in zip(floats, chosen, strict=True)}
    integers = [key for key in template if key not in aggregated]
    if integers:
        only = [SiteUpdate(u.site_id, {k: u.state[k] for k in integers}, u.num_examples)
                for u in updates]
        aggregated.update(aggregate_per_tensor(aggregate, only))
    return {key: aggregated[key] for key in template}


@register_strategy
class Bulyan(Strategy):
    """Krum-selected updates, then a coordinate-wise trimmed mean: Byzantine-robust with a
    tighter bound on what a hostile site can shift, at the price of needing 4f + 3 sites."""

    name = "bulyan"
    summary = "Krum selection, then a trimmed mean around the median; needs n >= 4f + 3."
    options = OPTIONS
    strict_precondition = True

    def __init__(self, *, num_malicious_clients: int = NUM_MALICIOUS.default) -> None:
        self.num_malicious_clients: int
        check_options(self, num_malicious_clients=num_malicious_clients)

    def precondition(self, num_updates: int) -> str | None:
        f = self.num_malicious_clients
        if num_updates >= 4 * f + 3:
            return None
        return (f"bulyan with num_malicious_clients={f} needs at least 4f + 3 = {4 * f + 3} "
                f"site updates a round, got {num_updates}")

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        return bulyan_aggregate(updates, self.num_malicious_clients)
