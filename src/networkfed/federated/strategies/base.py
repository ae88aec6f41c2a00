"""The strategy contract shared by the in-process engine and the Flower server app.

Like Flower's ``flwr/serverapp/strategy/strategy.py`` a strategy has a handful of hooks: what to
tell sites before a round (:meth:`Strategy.configure_fit`), how to turn their updates into the
next global state (:meth:`Strategy.aggregate_fit`) and its own server-side state for resume
(:meth:`Strategy.state_dict`). A variant overrides one method; the arithmetic lives in pure
functions beside each class.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from torch import Tensor

from networkfed.core.errors import CheckpointError, TrainingError
from networkfed.federated.strategies.options import Option
from networkfed.federated.types import SiteUpdate

logger = logging.getLogger(__name__)


class Strategy(ABC):
    """Base of every aggregation strategy.

    Subclasses declare ``name``, a one-line ``summary`` and their ``options``, take those
    options as keyword arguments (validated with :meth:`Option.check`, so a bad value raises
    ``ConfigError`` naming the allowed range) and implement :meth:`aggregate`.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Option]] = {}
    strict_precondition: ClassVar[bool] = False
    dp_compatible: ClassVar[bool] = False
    """Whether the rule only post-processes the (example-weighted) average of the updates, so
    client-level DP may hand it a noised average instead (:mod:`networkfed.privacy`). Rules
    that look at individual updates (median, Krum, trimming) are not: the noise on the
    average would no longer hide any one site."""
    """Whether a round whose updates fail :meth:`precondition` cannot be aggregated at all
    (Bulyan's arithmetic needs its ``4f + 3``) rather than only losing the guarantee."""

    def configure_fit(self, round_num: int) -> dict[str, float | int | str]:
        """Settings sent to every sampled site with the global state (none by default)."""
        return {}

    def precondition(self, num_updates: int) -> str | None:
        """Why this rule cannot keep its promise with ``num_updates`` updates a round (``None``:
        it can). Checked before a run starts against the sites sampled per round (a refusal
        is a ``ConfigError``) and again on each round's valid updates."""
        return None

    def aggregate_fit(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: Sequence[SiteUpdate]
    ) -> dict[str, Tensor]:
        """Return the next global state from this round's (already validated) site updates.

        Updates are sorted by ``site_id`` first, so the result does not depend on the order in
        which sites replied. ``round_num`` is 1-based, like Flower's ``server_round``.
        """
        if not updates:
            raise TrainingError(f"round {round_num}: no site updates to aggregate")
        problem = self.precondition(len(updates))
        if problem is not None and self.strict_precondition:
            raise TrainingError(f"round {round_num}: {problem}")
        if problem is not None:
            logger.warning("round %d: %s; aggregating anyway without that guarantee",
                           round_num, problem)
        ordered = sorted(updates, key=lambda update: update.site_id)
        logger.debug("round %d: aggregating %d updates with %s", round_num, len(ordered), self)
        return self.aggregate(round_num, global_state, ordered)

    @abstractmethod
    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        """Aggregate updates already sorted by ``site_id``; same dtypes as ``global_state``."""

    def sites_trained(self, round_num: int, site_ids: Sequence[str]) -> None:
        """The sites that trained this round, whether or not their update is accepted later
        (sample-level DP accounts for every site that touched its data; no-op by default)."""
        return None

    def privacy_spent(self) -> dict[str, Any]:
        """What differential privacy has spent after the last round (``epsilon``, ``delta``,
        ...); empty for a strategy without DP (:mod:`networkfed.privacy`)."""
        return {}

    def state_dict(self) -> dict[str, Tensor]:
        """Server-side state (moments, momentum) as a flat, safetensors-ready dict."""
        return {}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned, so a resumed run continues identically."""
        if state:
            problem = f"{self.name} keeps no server state, got keys {sorted(state)}"
            raise CheckpointError("strategy state", problem)

    def get_options(self) -> dict[str, Any]:
        """The option values this strategy was built with (for logs and run folders)."""
        return {key: getattr(self, key) for key in self.options}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_options().items())
        return f"{type(self).__name__}({settings})"


def check_options(strategy: Strategy, **values: object) -> None:
    """Validate each option against ``strategy.options`` and store it unchanged on the object."""
    for key, value in values.items():
        qualified = f"{strategy.name}.{key}"
        setattr(strategy, key, strategy.options[key].check(qualified, value))
