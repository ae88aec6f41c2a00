"""The deployment server's view of the federation, built from the sites' reports alone.

In a deployment the server never holds a site's rows. Each site reports (see
:func:`networkfed.flower.site_data.site_report`) its feature names, window counts per split
and label, and the sufficient statistics of its training rows; from those the server derives:

* the shared standardisation (:class:`~networkfed.data.types.PreprocessingSpec`), exactly the
  pooled statistics the in-process pipeline computes (``normalization="site"`` keeps each
  site's own instead);
* with bin columns (``feature_bins``), their edges, from the sum of the sites' per-class
  histograms of standardised training rows (a second report, :func:`with_bin_edges`);
* a :class:`~networkfed.data.types.FederatedData` whose sites are *summaries*: their splits
  carry the reported labels' counts (labels in sorted order, no windows: ``x`` has shape
  ``(n, 0, 0)``; a RUL run's splits carry only their window counts, with float targets).
  That is all the round loop uses on the server — site ids, split sizes and label counts for
  the class weights — so the engine, callbacks and run folder work unchanged, while any
  attempt to train on a summary fails loudly (it has no features).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from networkfed.core.errors import DataValidationError
from networkfed.data import DataConfig, FederatedData, PreprocessingSpec, SiteData, SplitTensors
from networkfed.data.bins import fit_bin_edges
from networkfed.data.label_stats import LABEL_STATS, LabelStats
from networkfed.data.sources import get_source
from networkfed.data.standardize import SufficientStats, combine

__all__ = ["federation_data", "federation_spec", "source_state", "with_bin_edges"]

SUMMARY = "summary"

logger = logging.getLogger(__name__)


def source_state(reports: Mapping[str, Mapping[str, Any]], config: DataConfig) -> dict[str, Any]:
    """The source's fitted preprocessing (C-MAPSS: per-condition normalisation) combined from
    the sites' ``source_fit`` parts, in site-id order; empty when the source fits nothing."""
    parts = [reports[site].get("source_fit") or {} for site in sorted(reports)]
    if not any(parts):
        return {}
    return get_source(config.dataset).fit_combine(parts)


def federation_spec(
    reports: Mapping[str, Mapping[str, Any]], config: DataConfig,
    transform: Mapping[str, Any] | None = None,
) -> PreprocessingSpec:
    """The shared preprocessing from the sites' reports (sites' own with ``site`` scaling).

    ``transform`` is the :func:`source_state` the reports were made after (their
    ``transformed`` flag says so); it travels with the spec to every site.
    """
    if not reports:
        raise DataValidationError("no site reported its data; nothing to train on")
    stale = [site for site, report in reports.items()
             if bool(report.get("transformed")) != bool(transform)]
    if stale:
        raise DataValidationError(
            f"the reports of {', '.join(sorted(stale))} were not made after the source's "
            "fitted preprocessing (ask the sites again with its state)")
    names = {site: list(report["feature_names"]) for site, report in reports.items()}
    first_site = sorted(names)[0]
    for site, features in names.items():
        if features != names[first_site]:
            raise DataValidationError(
                f"site {site!r} has features {features}, site {first_site!r} has "
                f"{names[first_site]}; every site must provide the same columns"
            )
    _warn_mixed_splits(reports)
    stats = {site: _stats(report) for site, report in reports.items()}
    pooled = combine(stats[site] for site in sorted(stats))
    options = {**dict(reports[first_site].get("options", {})),
               "normalization": config.normalization, "transform": dict(transform or {})}
    if config.normalization == "site":
        options["site_statistics"] = {
            site: {"mean": s.mean.tolist(), "std": s.std.tolist()} for site, s in stats.items()
        }
    return PreprocessingSpec(
        source=config.dataset,
        feature_names=names[first_site],
        sequence_length=config.sequence_length,
        mean=pooled.mean.tolist(),
        std=pooled.std.tolist(),
        source_options=options,
    )


def _warn_mixed_splits(reports: Mapping[str, Mapping[str, Any]]) -> None:
    """``split="auto"`` is resolved by each site on its own rows: say so when the sites
    chose differently (one plant's cycles look like episodes, another's do not)."""
    chosen = {site: report.get("options", {}).get("split") for site, report in reports.items()}
    if len(set(chosen.values()) - {None}) > 1:
        listed = ", ".join(f"{site}: {mode}" for site, mode in sorted(chosen.items()))
        logger.warning("the sites split their data differently (%s); set --split (run-config "
                       "key split) to give every site the same rule", listed)


def federation_data(
    reports: Mapping[str, Mapping[str, Any]], config: DataConfig,
    transform: Mapping[str, Any] | None = None,
) -> FederatedData:
    """Summaries of every reporting site (sorted by site id) with the shared preprocessing."""
    spec = federation_spec(reports, config, transform)
    sites = {site: _summary_site(site, reports[site], spec) for site in sorted(reports)}
    digest = hashlib.sha256()
    for site in sorted(reports):
        digest.update(f"{site}:{reports[site].get('fingerprint', '')};".encode())
    digest.update(json.dumps(config.model_dump(mode="json"), sort_keys=True).encode())
    return FederatedData(sites=sites, preprocessing=spec, fingerprint=digest.hexdigest(),
                         num_classes=1 if config.task == "rul" else 2)


def with_bin_edges(
    data: FederatedData, reports: Mapping[str, Mapping[str, Any]], config: DataConfig
) -> FederatedData:
    """``data`` with the bin edges fitted on the sum of the sites' reported histograms (in
    site-id order, as the in-process pipeline adds them)."""
    missing = sorted(site for site, report in reports.items() if "histograms" not in report)
    if missing:
        raise DataValidationError(
            f"the reports of {', '.join(missing)} hold no histograms; ask the sites again "
            "with the federation's preprocessing")
    histograms = sum(np.asarray(reports[site]["histograms"], dtype=np.int64)
                     for site in sorted(reports))
    edges = fit_bin_edges(histograms, config.feature_bins, config.bin_min_rows)
    return replace(data, preprocessing=replace(data.preprocessing, bin_edges=edges))


def _stats(report: Mapping[str, Any]) -> SufficientStats:
    return SufficientStats(int(report["count"]), np.asarray(report["total"], dtype=np.float64),
                           np.asarray(report["total_sq"], dtype=np.float64))


def _summary_site(site: str, report: Mapping[str, Any], spec: PreprocessingSpec) -> SiteData:
    counts = report["label_counts"]
    splits = {name: _summary_split(counts[name]) if counts
              else _rul_summary(report["windows"][name]) for name in ("train", "val", "test")}
    scaling = spec.source_options.get("site_statistics", {}).get(site)
    meta = {SUMMARY: True, "scaling": scaling, LABEL_STATS: _label_stats(report)}
    return SiteData(site, splits["train"], splits["val"], splits["test"], meta)


def _label_stats(report: Mapping[str, Any]) -> LabelStats | None:
    """The site's feature-label sums (``None`` from a site that did not send them)."""
    if "cross" not in report:
        return None
    return LabelStats(int(report["count"]), np.asarray(report["total"], dtype=np.float64),
                      np.asarray(report["total_sq"], dtype=np.float64),
                      float(report["label_total"]), np.asarray(report["cross"], dtype=np.float64))


def _summary_split(label_counts: list[int]) -> SplitTensors:
    """A split known only by its label counts: labels in sorted order and no windows."""
    labels = torch.repeat_interleave(torch.arange(len(label_counts)), torch.tensor(label_counts))
    n = int(labels.shape[0])
    return SplitTensors(x=torch.empty((n, 0, 0)), y=labels.long(),
                        machine_ids=np.full(n, "", dtype=object))


def _rul_summary(windows: int) -> SplitTensors:
    """A RUL split known only by its size: float targets (all 0, the server never sees a
    site's remaining-life values) and no windows."""
    return SplitTensors(x=torch.empty((windows, 0, 0)), y=torch.zeros(windows),
                        machine_ids=np.full(windows, "", dtype=object))
