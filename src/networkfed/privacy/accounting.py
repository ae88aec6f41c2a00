"""How much privacy a run has spent: Opacus' RDP accountant, kept for the whole run.

Flower's DP wrappers add noise but report no ε, and its Opacus example starts a new
accountant every round (so its ε is that of one round). Here one accountant composes every
round actually run — noise multiplier and sampling rate of each — and its history travels
with the strategy's checkpointed state, so a resumed run continues the same ε instead of
starting from zero. No accounting is written by hand: composition and the RDP-to-(ε, δ)
conversion are Opacus'.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping

import torch
from torch import Tensor

from networkfed.core.errors import CheckpointError, ConfigError

__all__ = [
    "PrivacyAccountant", "import_opacus", "load_opacus_accountant", "solve_noise_multiplier",
]

HISTORY_KEY = "accountant_history"
"""The accountant's state inside a strategy state: rows ``(noise_multiplier, sample_rate,
steps)`` in float64, Opacus' own ``history`` as a tensor (safetensors-ready)."""


def import_opacus() -> None:
    """Import Opacus, or say how to install it (a usage error, not a crash).

    Opacus calls ``logging.basicConfig`` when imported, which would print every NetworkFed
    warning twice (the CLI has its own handler); the root handler it adds is removed.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        import opacus
        import opacus.accountants.utils
        import opacus.optimizers
        import opacus.validators  # noqa: F401
    except ImportError as error:
        raise ConfigError("dp", "client", "Opacus installed for differential privacy: pip "
                          f"install 'networkfed[privacy]' ({error})") from None
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)


def load_opacus_accountant() -> type:
    """Opacus' ``RDPAccountant`` class (see :func:`import_opacus`)."""
    import_opacus()
    from opacus.accountants import RDPAccountant

    return RDPAccountant


class PrivacyAccountant:
    """One run's (ε, δ) ledger: a step per round run, at that round's noise and sampling rate.

    Parameters
    ----------
    delta
        The δ at which ε is reported (the chance that the guarantee does not hold).
    """

    def __init__(self, delta: float) -> None:
        self.delta = float(delta)
        self._accountant = load_opacus_accountant()()

    @property
    def rounds(self) -> int:
        """Steps composed so far — rounds for client-level DP, DP-SGD steps for a site — a
        resumed run counting those before the resume too."""
        return int(sum(steps for _, _, steps in self._accountant.history))

    def step(self, noise_multiplier: float, sample_rate: float) -> None:
        """Compose one round of the Gaussian mechanism into the ledger."""
        self._accountant.step(noise_multiplier=float(noise_multiplier),
                              sample_rate=float(sample_rate))

    def epsilon(self) -> float:
        """ε spent so far at :attr:`delta` (0 before any round)."""
        if not self._accountant.history:
            return 0.0
        with warnings.catch_warnings():  # an edge order still gives a valid upper bound
            warnings.filterwarnings("ignore", message="Optimal order is the")
            return float(self._accountant.get_epsilon(delta=self.delta))

    def state_dict(self) -> dict[str, Tensor]:
        history = [[float(s), float(q), float(n)] for s, q, n in self._accountant.history]
        return {HISTORY_KEY: torch.tensor(history, dtype=torch.float64).reshape(-1, 3)}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        if HISTORY_KEY not in state:
            raise CheckpointError("strategy state", f"no {HISTORY_KEY!r}: the run was not "
                                  "saved with differential privacy")
        rows = state[HISTORY_KEY].to(torch.float64).reshape(-1, 3).tolist()
        self._accountant.load_state_dict({"history": [(s, q, int(n)) for s, q, n in rows],
                                          "mechanism": self._accountant.mechanism()})


def solve_noise_multiplier(
    target_epsilon: float, delta: float, sample_rate: float, rounds: int
) -> float:
    """The smallest noise multiplier whose ``rounds`` rounds at ``sample_rate`` stay within
    ``target_epsilon`` at ``delta`` (Opacus' ``get_noise_multiplier``, RDP accountant)."""
    import_opacus()
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Optimal order is the")
            sigma = get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta,
                                         sample_rate=sample_rate, steps=rounds,
                                         accountant="rdp")
    except ValueError as error:
        raise ConfigError("dp_epsilon (--dp-epsilon)", target_epsilon,
                          f"a budget some noise can meet in {rounds} rounds at δ={delta:g} "
                          f"({error})") from None
    return float(sigma) if math.isfinite(sigma) else math.inf
