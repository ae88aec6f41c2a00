"""Partition schemes: pure, seeded functions from items (rows or machines) to site indices.

Each function returns an ``int64`` array with one site index per item, so every item goes to
exactly one site. The caller decides what an item is: a row for tabular data, a machine
(engine, unit) where windows must stay inside one machine.
"""

from __future__ import annotations

import numpy as np

from networkfed.core.errors import ConfigError

__all__ = [
    "dirichlet_partition",
    "iid_partition",
    "natural_partition",
    "quantity_skew_partition",
]

_MAX_TRIES = 100


def natural_partition(groups: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """One site per distinct group value (plant, product type, subset), in order of appearance."""
    codes, names = _factorize(np.asarray(groups))
    return codes, [str(name) for name in names]


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names, first, codes = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[codes].astype(np.int64), names[order]


def _check_sites(num_items: int, num_sites: int, min_size: int) -> None:
    if num_sites < 1:
        raise ConfigError("num_sites", num_sites, "an integer >= 1")
    if num_items < num_sites * min_size:
        raise ConfigError(
            "num_sites",
            num_sites,
            f"at most {num_items // max(min_size, 1)} sites for {num_items} items "
            f"of which each site needs {min_size}",
        )


def iid_partition(num_items: int, num_sites: int, seed: int) -> np.ndarray:
    """Shuffle, then deal items round-robin: equal sizes, same label mix in expectation."""
    _check_sites(num_items, num_sites, 1)
    order = np.random.default_rng(seed).permutation(num_items)
    sites = np.empty(num_items, dtype=np.int64)
    sites[order] = np.arange(num_items) % num_sites
    return sites


def dirichlet_partition(
    labels: np.ndarray, num_sites: int, alpha: float, seed: int, *, min_size: int = 1
) -> np.ndarray:
    """Label skew: each class is spread over the sites by proportions drawn from Dir(alpha).

    Small ``alpha`` gives each site a very different failure share (some may get none at all:
    the loader warns). Redraws until every site holds at least ``min_size`` items.
    """
    labels = np.asarray(labels)
    _check_sites(labels.size, num_sites, min_size)
    rng = np.random.default_rng(seed)
    for _ in range(_MAX_TRIES):
        sites = np.empty(labels.size, dtype=np.int64)
        for label in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == label))
            shares = rng.dirichlet(np.full(num_sites, alpha))
            cuts = np.rint(np.cumsum(shares)[:-1] * members.size).astype(np.int64)
            for site, chunk in enumerate(np.split(members, cuts)):
                sites[chunk] = site
        if np.bincount(sites, minlength=num_sites).min() >= min_size:
            return sites
    raise ConfigError(
        "dirichlet_alpha",
        alpha,
        f"a larger value (or fewer than {num_sites} sites): {_MAX_TRIES} draws left a site "
        f"with fewer than {min_size} items",
    )


def quantity_skew_partition(
    num_items: int, num_sites: int, alpha: float, seed: int, *, min_size: int = 1
) -> np.ndarray:
    """Quantity skew: site sizes drawn from Dir(alpha), items otherwise random.

    Every site first gets ``min_size`` items; the rest are shared by the Dirichlet proportions.
    """
    _check_sites(num_items, num_sites, min_size)
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.full(num_sites, alpha))
    spare = num_items - num_sites * min_size
    extra = np.floor(shares * spare).astype(np.int64)
    extra[np.argsort(-shares)[: spare - int(extra.sum())]] += 1
    sizes = extra + min_size
    sites = np.repeat(np.arange(num_sites, dtype=np.int64), sizes)
    return sites[rng.permutation(num_items)]
