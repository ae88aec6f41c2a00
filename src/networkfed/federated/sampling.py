"""Which sites take part in a round: sampling and simulated drop-outs, seeded per round.

Both are pure functions of (seed, round), so a resumed run samples exactly as an
uninterrupted one would, with no random state to carry over.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from networkfed.federated.local_training import site_seed

__all__ = ["sample_sites", "simulate_dropouts"]

_SERVER = "<server>"


def sample_sites(
    site_ids: Sequence[str], fraction_fit: float, min_fit_clients: int, seed: int, round_num: int
) -> list[str]:
    """Choose ``max(int(n * fraction_fit), min_fit_clients)`` sites (Flower's rule), at most n.

    Returned in the order of ``site_ids``.
    """
    n = len(site_ids)
    size = min(n, max(int(n * fraction_fit), min_fit_clients))
    rng = np.random.default_rng(site_seed(seed, _SERVER, round_num, "sampling"))
    chosen = set(rng.choice(n, size=size, replace=False).tolist())
    return [site for index, site in enumerate(site_ids) if index in chosen]


def simulate_dropouts(
    site_ids: Sequence[str], rate: float, seed: int, round_num: int
) -> tuple[list[str], list[str]]:
    """Split sampled sites into (online, dropped); each drops with probability ``rate``."""
    if rate <= 0:
        return list(site_ids), []
    rng = np.random.default_rng(site_seed(seed, _SERVER, round_num, "dropouts"))
    dropped = rng.random(len(site_ids)) < rate
    online = [site for site, gone in zip(site_ids, dropped, strict=True) if not gone]
    return online, [site for site, gone in zip(site_ids, dropped, strict=True) if gone]
