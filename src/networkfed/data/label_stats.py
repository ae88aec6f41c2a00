"""Each feature's correlation with the failure label at each site, from sufficient statistics.

A federation can only learn one relation between a feature and failure. When a feature rises
with failures at one site and falls with them at another, a shared model is pulled both ways
and may learn nothing (the health findings then name this as the likely cause). Telling that
needs no raw row: like the standardisation statistics (:mod:`networkfed.data.standardize`),
each site sends counts and sums — ``n``, sum x, sum x², sum y and sum x·y per feature — and
the correlation of every site follows from its own sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from networkfed.data.types import SiteData

__all__ = [
    "LABEL_STATS",
    "Disagreement",
    "LabelStats",
    "label_statistics",
    "opposite_signs",
    "site_label_statistics",
]

LABEL_STATS = "label_stats"
"""``SiteData.metadata`` key of a site's reported :class:`LabelStats` (a Flower deployment's
server holds summaries of the sites, with the sums each one sent instead of its windows)."""

MIN_CORRELATION = 0.1
"""Smallest |correlation| on each side for a disagreement to count (below it: noise)."""


@dataclass(frozen=True)
class LabelStats:
    """What a site reveals about how its features go with its labels (training windows).

    The label is 0/1, so its sum of squares is its sum and needs no field of its own.
    """

    count: int
    total: np.ndarray
    total_sq: np.ndarray
    label_total: float
    cross: np.ndarray
    """Sum over windows of feature x label, per feature."""

    @property
    def correlation(self) -> np.ndarray:
        """Pearson correlation of each feature with the label (NaN where either is constant)."""
        n = float(self.count)
        covariance = n * self.cross - self.total * self.label_total
        feature_var = n * self.total_sq - self.total**2
        label_var = n * self.label_total - self.label_total**2
        constant = feature_var <= 1e-12 * np.maximum(n * self.total_sq, 1e-300)
        if label_var <= 0:
            return np.full(self.total.shape, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            correlation = covariance / np.sqrt(np.maximum(feature_var, 0.0) * label_var)
        return np.where(constant, np.nan, correlation)


def label_statistics(features: np.ndarray, labels: np.ndarray) -> LabelStats:
    """Run at a site: the sums of its training rows ``(n, F)`` and 0/1 labels ``(n,)``."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    return LabelStats(int(x.shape[0]), x.sum(axis=0), np.square(x).sum(axis=0),
                      float(y.sum()), x.T @ y)


def site_label_statistics(site: SiteData, num_features: int) -> LabelStats | None:
    """The statistics of a site's training windows at their last step (the step the label
    belongs to), over the first ``num_features`` input columns (bin columns follow them).

    A site the caller holds only a summary of (a Flower deployment's server: its windows have
    no features) gives the sums it reported (its raw training rows rather than windows), or
    ``None`` when it reported none.
    """
    reported = site.metadata.get(LABEL_STATS)
    if isinstance(reported, LabelStats):
        return reported
    x = site.train.x
    if x.ndim != 3 or x.shape[-1] < num_features or num_features < 1 or len(site.train) == 0:
        return None
    return label_statistics(x[:, -1, :num_features].double().numpy(), site.train.y.numpy())


@dataclass(frozen=True)
class Disagreement:
    """A feature that goes up with failures at some sites and down at others."""

    feature: str
    rising: dict[str, float]
    """Site -> correlation, for the sites where failures come with high values."""
    falling: dict[str, float]
    """Site -> correlation, for the sites where failures come with low values."""

    def describe(self) -> str:
        def sites(found: Mapping[str, float]) -> str:
            return ", ".join(f"{site} {value:+.2f}" for site, value in found.items())

        return (f"'{self.feature}' goes with failures at {sites(self.rising)} but against "
                f"them at {sites(self.falling)}")


def opposite_signs(
    stats: Mapping[str, LabelStats | None], feature_names: Sequence[str],
    min_correlation: float = MIN_CORRELATION,
) -> list[Disagreement]:
    """The features whose correlation with failure is at least ``min_correlation`` at one
    site and at most ``-min_correlation`` at another, strongest disagreement first."""
    known = {site: s.correlation for site, s in stats.items() if s is not None}
    found = []
    for index, name in enumerate(feature_names):
        values = {site: float(r[index]) for site, r in known.items() if index < r.size}
        rising = {s: v for s, v in values.items() if v >= min_correlation}
        falling = {s: v for s, v in values.items() if v <= -min_correlation}
        if rising and falling:
            found.append(Disagreement(name, rising, falling))
    return sorted(found, key=lambda d: -(max(d.rising.values()) - min(d.falling.values())))
