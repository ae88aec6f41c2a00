"""MultiKrum: FedAvg over the ``m`` updates with the best Krum scores [El Mhamdi et al., 2018].

Scores and averaging as in :mod:`~networkfed.federated.strategies.krum` (Flower's
``aggregate_krum`` formula with ``to_keep = m``, distances over floating tensors only).
When fewer than ``m`` sites reply (dropouts), all of them are kept and a warning is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from torch import Tensor

from networkfed.federated.strategies.base import Strategy, check_options
from networkfed.federated.strategies.krum import (
    NUM_MALICIOUS,
    krum_aggregate,
    krum_precondition,
)
from networkfed.federated.strategies.options import Option
from networkfed.federated.strategies.registry import register_strategy
from networkfed.federated.types import SiteUpdate

logger = logging.getLogger(__name__)

NUM_TO_KEEP = Option(
    default=2, low=1, integer=True, help="How many best-scoring site models are averaged."
)
OPTIONS = {"num_malicious_clients": NUM_MALICIOUS, "num_clients_to_keep": NUM_TO_KEEP}


@register_strategy
class MultiKrum(Strategy):
    """Average the most central site models: Krum's robustness with less variance."""

    name = "multikrum"
    summary = "Example-weighted average of the m most central site models; Byzantine-robust."
    options = OPTIONS

    def __init__(
        self,
        *,
        num_malicious_clients: int = NUM_MALICIOUS.default,
        num_clients_to_keep: int = NUM_TO_KEEP.default,
    ) -> None:
        self.num_malicious_clients: int
        self.num_clients_to_keep: int
        check_options(
            self,
            num_malicious_clients=num_malicious_clients,
            num_clients_to_keep=num_clients_to_keep,
        )

    def precondition(self, num_updates: int) -> str | None:
        return krum_precondition(self.name, self.num_malicious_clients, num_updates)

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        keep = self.num_clients_to_keep
        if keep > len(updates):
            logger.warning(
                "round %d: num_clients_to_keep=%d but only %d updates; keeping all",
                round_num, keep, len(updates),
            )
            keep = len(updates)
        return krum_aggregate(updates, self.num_malicious_clients, keep)
