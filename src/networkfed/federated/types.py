"""What a site sends back to the server after local training.

A :class:`SiteUpdate` is the in-process twin of a Flower training reply (one ``ArrayRecord`` plus
one ``MetricRecord`` with ``num-examples``), so the in-process engine and the Flower server app
hand strategies the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass(frozen=True)
class SiteUpdate:
    """One site's locally trained model and how much data it was trained on.

    Attributes
    ----------
    site_id
        The site that trained it; strategies sort updates by it so results do not depend on
        the order in which replies arrive.
    state
        The full ``state_dict`` after local training, buffers included (same keys, shapes and
        dtypes as the global state it started from).
    num_examples
        Training examples seen locally; the weight of this update in example-weighted rules.
    metrics
        Local training metrics (e.g. ``{"train_loss": 0.31}``), for logs and reports only.
    """

    site_id: str
    state: dict[str, Tensor]
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)
