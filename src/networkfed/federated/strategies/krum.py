"""Krum: keep the one site update closest to its neighbours [Blanchard et al., 2017].

Each update is scored by the summed squared L2 distance to its ``n - f - 2`` nearest other
updates (``f`` = ``num_malicious_clients``, at least one neighbour); the lowest score wins, and
MultiKrum averages the ``m`` lowest. This is the formula of Flower's ``aggregate_krum`` in
``flwr/server/strategy/aggregate.py``, restated because Flower's version measures distances
over every array, integer buffers included: a BatchNorm step counter (``num_batches_tracked``)
says nothing about a model's behaviour yet would dominate the distance, so only floating
tensors count here. The chosen updates are then averaged with Flower's ``aggregate``. Ties go
to the first site in ``site_id`` order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from flwr.server.strategy.aggregate import aggregate
from torch import Tensor

from networkfed.federated.strategies.arrays import aggregate_per_tensor, to_ndarrays
from networkfed.federated.strategies.base import Strategy, check_options
from networkfed.federated.strategies.options import Option
from networkfed.federated.strategies.registry import register_strategy
from networkfed.federated.types import SiteUpdate

NUM_MALICIOUS = Option(
    default=0, low=0, integer=True, help="How many sites may send arbitrary (hostile) updates."
)
OPTIONS = {"num_malicious_clients": NUM_MALICIOUS}


def krum_scores(updates: Sequence[SiteUpdate], num_malicious: int) -> np.ndarray:
    """Each update's summed squared distance to its ``max(1, n - f - 2)`` nearest others."""
    keys = [key for key, value in updates[0].state.items() if value.is_floating_point()]
    vectors = np.stack([
        np.concatenate([a.ravel() for a in to_ndarrays(u.state, keys)]) for u in updates
    ])
    num_closest = max(1, len(updates) - num_malicious - 2)
    scores = []
    for i, vector in enumerate(vectors):
        distances = np.delete(np.square(vectors - vector).sum(axis=1), i)
        scores.append(np.sort(distances)[:num_closest].sum())
    return np.asarray(scores)


def krum_precondition(name: str, num_malicious: int, num_updates: int) -> str | None:
    """Blanchard et al.'s bound: Krum tolerates ``f`` hostile updates only when
    ``n > 2f + 2``."""
    if num_updates > 2 * num_malicious + 2:
        return None
    return (f"{name} with num_malicious_clients={num_malicious} needs more than 2f + 2 = "
            f"{2 * num_malicious + 2} site updates a round, got {num_updates}")


def krum_aggregate(
    updates: Sequence[SiteUpdate], num_malicious: int, num_to_keep: int = 1
) -> dict[str, Tensor]:
    """Example-weighted mean of the ``num_to_keep`` best-scoring updates (1 = Krum)."""
    best = np.argsort(krum_scores(updates, num_malicious), kind="stable")[:num_to_keep]
    chosen = [updates[i] for i in sorted(best)]
    return aggregate_per_tensor(aggregate, chosen)


@register_strategy
class Krum(Strategy):
    """Adopt the single most central site model: one hostile site cannot pull the average."""

    name = "krum"
    summary = "Keep the one site model closest to the others; Byzantine-robust."
    options = OPTIONS

    def __init__(self, *, num_malicious_clients: int = NUM_MALICIOUS.default) -> None:
        self.num_malicious_clients: int
        check_options(self, num_malicious_clients=num_malicious_clients)

    def precondition(self, num_updates: int) -> str | None:
        return krum_precondition(self.name, self.num_malicious_clients, num_updates)

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        return krum_aggregate(updates, self.num_malicious_clients)
