"""Where a tree run's site work happens: in this process, or on Flower nodes.

:class:`~networkfed.trees.engine.TreeEngine` asks a :class:`TreeSites` for two things only:
boost some sites from the global booster, and predict every site's validation and test rows.
:class:`LocalSites` does both here on the sites' rows; ``networkfed.flower.trees`` sends the
same work to SuperNodes as Flower messages (the booster as JSON bytes in an ``ArrayRecord``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from networkfed.federated.evaluation import SplitPredictions
from networkfed.trees.booster import boost, load_booster, predict_probability

__all__ = ["Boosted", "LocalSites", "SiteRows", "TreeSites", "predict_rows"]

SiteRows = dict[str, tuple[np.ndarray, np.ndarray]]
"""Split name -> (tree features, labels) of one site."""


@dataclass(frozen=True)
class Boosted:
    """What a site sends back: its whole booster, its new trees, how it fits its rows."""

    site_id: str
    whole: bytes
    new: bytes
    train_loss: float
    num_examples: int


class TreeSites(Protocol):
    """Site work of a tree run (results in the order asked)."""

    def boost(
        self, model: bytes, work: Sequence[tuple[str, dict[str, Any]]], rounds: int
    ) -> list[Boosted]:
        """Every ``(site, params)`` boosts ``rounds`` trees from ``model`` on its rows."""
        ...

    def predict(
        self, model: bytes, sites: Sequence[str]
    ) -> dict[str, dict[str, SplitPredictions]]:
        """Every site's ``val`` and ``test`` predictions of ``model``."""
        ...


def predict_rows(
    booster: Any, rows: SiteRows, regression: bool = False
) -> dict[str, SplitPredictions]:
    """A loaded booster's validation and test predictions on one site's rows; with
    ``regression`` (a RUL run) the targets stay remaining life (float), which is what makes
    :func:`~networkfed.federated.evaluation.evaluate_predictions` score RMSE and NASA."""
    target = np.float64 if regression else np.int64
    return {split: SplitPredictions(rows[split][1].astype(target),
                                    predict_probability(booster, rows[split][0]))
            for split in ("val", "test")}


class LocalSites:
    """The sites' work in this process (the in-process engine)."""

    def __init__(self, rows: Mapping[str, SiteRows], regression: bool = False) -> None:
        self.rows, self.regression = rows, regression

    def boost(
        self, model: bytes, work: Sequence[tuple[str, dict[str, Any]]], rounds: int
    ) -> list[Boosted]:
        start = load_booster(model)  # parsed once; every site boosts from a binary copy
        done = []
        for site, params in work:
            x, y = self.rows[site]["train"]
            whole, new, loss = boost(start, params, x, y, rounds)
            done.append(Boosted(site, whole, new, loss, len(y)))
        return done

    def predict(
        self, model: bytes, sites: Sequence[str]
    ) -> dict[str, dict[str, SplitPredictions]]:
        booster = load_booster(model, {"nthread": 1})  # parsed once for every site and split
        return {site: predict_rows(booster, self.rows[site], self.regression) for site in sites}
