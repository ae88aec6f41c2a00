"""FedProx: FedAvg plus a proximal term (mu/2)·||w - w_global||² in local training.

[Li et al., 2020]. As in Flower's ``flwr/serverapp/strategy/fedprox.py`` the server only sends
``proximal_mu`` with each round's configuration; local training adds the term, which keeps
heterogeneous sites from drifting far from the global model.
"""

from __future__ import annotations

from networkfed.federated.strategies.base import check_options
from networkfed.federated.strategies.fedavg import FedAvg
from networkfed.federated.strategies.options import Option
from networkfed.federated.strategies.registry import register_strategy

PROXIMAL_MU = Option(
    default=0.01, low=0.0, help="Weight of the proximal term in local training (0 = FedAvg)."
)

OPTIONS = {"proximal_mu": PROXIMAL_MU}


@register_strategy
class FedProx(FedAvg):
    """FedAvg whose sites are told to penalise drift from the global model."""

    name = "fedprox"
    summary = "FedAvg plus a proximal term in local training; for sites with different data."
    options = OPTIONS

    def __init__(self, *, proximal_mu: float = PROXIMAL_MU.default) -> None:
        self.proximal_mu: float
        check_options(self, proximal_mu=proximal_mu)

    def configure_fit(self, round_num: int) -> dict[str, float | int | str]:
        return {"proximal_mu": self.proximal_mu}
