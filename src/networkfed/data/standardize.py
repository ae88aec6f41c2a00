"""Federated standardisation from sufficient statistics: no raw row leaves its site.

Each site computes :func:`site_statistics` on its *training* rows (counts, sums and sums of
squares per feature) and sends only that; the server adds them up (:func:`combine`) and
derives the mean and standard deviation. The result equals the statistics of the pooled
training rows exactly (up to floating point), which the tests check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["SufficientStats", "combine", "site_statistics", "standardise"]

_MIN_STD = 1e-8


@dataclass(frozen=True)
class SufficientStats:
    """What a site reveals about its training features: ``n``, sum and sum of squares."""

    count: int
    total: np.ndarray
    total_sq: np.ndarray

    def __add__(self, other: SufficientStats) -> SufficientStats:
        return SufficientStats(
            self.count + other.count, self.total + other.total, self.total_sq + other.total_sq
        )

    @property
    def mean(self) -> np.ndarray:
        return self.total / max(self.count, 1)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation; a constant feature gets 1 so it maps to 0, not NaN."""
        variance = self.total_sq / max(self.count, 1) - self.mean**2
        std = np.sqrt(np.maximum(variance, 0.0))
        return np.where(std > _MIN_STD * np.maximum(np.abs(self.mean), 1.0), std, 1.0)

    @property
    def raw_std(self) -> np.ndarray:
        """Standard deviation without the constant-feature guard (0 for a constant feature)."""
        variance = self.total_sq / max(self.count, 1) - self.mean**2
        return np.sqrt(np.maximum(variance, 0.0))


def site_statistics(values: np.ndarray) -> SufficientStats:
    """Run at a site: the statistics of its training rows ``(n, F)``, in float64."""
    values = np.asarray(values, dtype=np.float64)
    return SufficientStats(int(values.shape[0]), values.sum(axis=0), np.square(values).sum(axis=0))


def combine(reports: Iterable[SufficientStats]) -> SufficientStats:
    """Run at the server: add the sites' reports into the statistics of the pooled data."""
    reports = list(reports)
    if not reports:
        raise ValueError("combine() needs at least one site report")
    total = reports[0]
    for report in reports[1:]:
        total = total + report
    return total


def standardise(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(values - mean) / std`` as float32, the dtype every model input has."""
    return ((np.asarray(values, dtype=np.float64) - mean) / std).astype(np.float32)
