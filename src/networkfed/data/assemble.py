"""Turn sited, split rows into every site's standardised window tensors.

The statistics flow is the federated one even in a single process: each site's training
rows produce a :class:`SufficientStats` report (site side); only the reports are combined
(server side); the combined mean and std go back to every site. With
``normalization="site"`` each site keeps its own report's statistics instead. Bin columns
(``feature_bins``) follow the same flow: per-class histograms of the standardised training
rows go to the server, the edges come back.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from networkfed.core.errors import DataValidationError
from networkfed.data.bins import class_histograms, encode_bins, fit_bin_edges
from networkfed.data.config import DataConfig
from networkfed.data.sources.base import DataSource, SourceTable
from networkfed.data.splits import SPLIT_NAMES, TEST, TRAIN, VAL
from networkfed.data.standardize import SufficientStats, combine, site_statistics, standardise
from networkfed.data.types import FederatedData, PreprocessingSpec, SiteData, SplitTensors
from networkfed.data.windows import (
    gather_windows,
    last_row_ends,
    last_window_ends,
    run_starts,
    truncated_window_ends,
    window_ends,
)

__all__ = ["build_federated_data", "split_window_ends"]

logger = logging.getLogger(__name__)


def _site_reports(table: SourceTable, train_rows: list[np.ndarray]) -> list[SufficientStats]:
    """What each site sends to the server: statistics of its training rows, nothing else."""
    return [site_statistics(table.values[rows]) for rows in train_rows]


def _row_scaling(
    reports: list[SufficientStats], pooled: SufficientStats, sites: np.ndarray, per_site: bool
) -> tuple[np.ndarray, np.ndarray]:
    if not per_site:
        return pooled.mean[None, :], pooled.std[None, :]
    means = np.stack([report.mean for report in reports])
    stds = np.stack([report.std for report in reports])
    return means[sites], stds[sites]


def _split_tensors(
    values: np.ndarray, labels: np.ndarray, machines: np.ndarray, ends: np.ndarray, length: int,
    starts: np.ndarray,
) -> SplitTensors:
    x = gather_windows(values, ends, length, starts)
    return SplitTensors(
        x=torch.from_numpy(x),
        # a regression target (remaining life) stays a float; class labels are int64
        y=torch.from_numpy(labels[ends].astype(
            np.float32 if np.issubdtype(labels.dtype, np.floating) else np.int64)),
        machine_ids=machines[ends],
    )


def split_window_ends(
    starts: np.ndarray, split: np.ndarray, table: SourceTable, config: DataConfig, seed: int,
    pad_short: bool = False,
) -> dict[int, np.ndarray]:
    """Window ends per split code: all windows, except the test split's last windows (C-MAPSS)
    and, with ``val_truncations``, validation windows of truncated machines.

    ``pad_short``: a test machine shorter than the window is scored too, at its last row (the
    caller pads its window: :func:`~networkfed.data.windows.gather_windows` with ``starts``),
    as the C-MAPSS literature scores every test engine; without it such machines are left
    out, with a warning.
    """
    length = config.sequence_length
    ends = window_ends(starts, length)
    pools = {code: ends for code in range(len(SPLIT_NAMES))}
    if not table.test_last_window_only:
        if config.val_truncations is not None:
            logger.warning("val_truncations applies to %s only when its test split is scored "
                           "at last windows; all validation windows are kept", config.dataset)
        return pools
    full = last_window_ends(starts, length)
    is_test = split == TEST
    short = np.unique(starts[is_test]).size - int(is_test[full].sum())
    pools[TEST] = last_row_ends(starts) if pad_short else full
    if short and pad_short:
        logger.info("%d test machines have fewer than sequence_length=%d rows: their window "
                    "repeats their first row backwards (padded)", short, length)
    elif short:
        logger.warning("%d test machines have fewer than sequence_length=%d rows and are not "
                       "evaluated", short, length)
    if config.val_truncations is not None:
        rng = np.random.default_rng([seed, VAL])
        pools[VAL] = truncated_window_ends(starts, length, config.val_truncations, rng)
    return pools


def _check_windows(
    site_id: str, split_name: str, count: int, in_split: np.ndarray, starts: np.ndarray,
    table: SourceTable, length: int,
) -> None:
    """Refuse a site's split without windows, with the remedy for the case at hand."""
    if count:
        return
    rows = int(in_split.sum())
    mode = table.options.get("split", "")
    if rows == 0:
        raise DataValidationError(
            f"site '{site_id}' has no {split_name} rows", path=table.path,
            hint="a split by machine needs at least 3 machines per site: fewer sites, more "
            "machines per site, or --split time" if mode == "machine"
            else "fewer sites, or more rows per site",
        )
    longest = int((np.arange(starts.size) - starts + 1)[in_split].max())
    raise DataValidationError(
        f"site '{site_id}' has no {split_name} window: its {rows} {split_name} rows form no "
        f"run of sequence_length={length} consecutive rows of one machine (the longest has "
        f"{longest})",
        path=table.path, hint=_window_hint(mode, split_name, longest),
    )


def _window_hint(mode: str, split_name: str, longest: int) -> str:
    hint = f"use --sequence-length {longest} or less, or more rows per machine"
    if mode == "time":
        return (f"{hint}; a time split gives {split_name} only a part of each machine's rows: "
                "for short episodes (test cycles), --split machine keeps each one whole")
    if mode == "stratified":
        return (f"{hint}; a stratified split deals single rows to the splits: windows need "
                "--split time or machine (with a --group-column), or --sequence-length 1")
    return hint


def _site_metadata(
    table: SourceTable, site_rows: np.ndarray, split: np.ndarray, ends: dict[str, np.ndarray]
) -> dict[str, Any]:
    labels = table.labels[site_rows]
    if np.issubdtype(labels.dtype, np.floating):  # remaining life: rows at the failure itself
        labels = (labels == 0).astype(np.int64)
    meta: dict[str, Any] = {
        "rows": int(site_rows.size),
        "rows_per_split": {
            name: int((split[site_rows] == code).sum()) for code, name in enumerate(SPLIT_NAMES)
        },
        "machines": int(pd.unique(table.machines[site_rows]).size),
        "failures": int(labels.sum()),
        "failure_rate": float(labels.mean()) if labels.size else 0.0,
        "end_times": {name: table.times[e] for name, e in ends.items()},
    }
    for extra, column in table.extras.items():
        if np.issubdtype(column.dtype, np.number):
            meta[extra] = {name: column[e] for name, e in ends.items()}
    return meta


def _site_data(
    site_id: str,
    values: np.ndarray,
    table: SourceTable,
    ends: dict[str, np.ndarray],
    length: int,
    meta: dict[str, Any],
    starts: np.ndarray,
) -> SiteData:
    tensors = {
        name: _split_tensors(values, table.labels, table.machines, e, length, starts)
        for name, e in ends.items()
    }
    return SiteData(site_id, tensors["train"], tensors["val"], tensors["test"], meta)


def _warn_sites_without_failures(sites: dict[str, SiteData]) -> None:
    """One warning naming the sites with no failure in training (one line per site flooded
    the terminal with hundreds of lines when data was spread over 1,000 sites)."""
    empty = [site_id for site_id, site in sites.items() if site.train.positives == 0]
    if empty:
        shown = ", ".join(empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        logger.warning(
            "%d of %d sites have no failure at all in their training windows: %s",
            len(empty), len(sites), shown,
        )


def _bin_edges(
    values: np.ndarray, labels: np.ndarray, train_rows: list[np.ndarray], config: DataConfig
) -> list[list[float]]:
    """Bin edges from the sites' per-class histograms of their standardised training rows,
    added up at the server (``[]`` when ``feature_bins`` is off)."""
    if not config.feature_bins:
        return []
    histograms = sum(class_histograms(values[rows], labels[rows]) for rows in train_rows)
    return fit_bin_edges(histograms, config.feature_bins, config.bin_min_rows)


def build_federated_data(
    source: DataSource,
    table: SourceTable,
    sites: np.ndarray,
    site_ids: list[str],
    split: np.ndarray,
    config: DataConfig,
    seed: int = 0,
) -> FederatedData:
    """Fit preprocessing on the training rows (federatedly), standardise and cut windows."""
    order = np.argsort(sites * 3 + split, kind="stable")  # contiguous (site, split) blocks
    table, sites, split = table.take(order), sites[order], split[order]
    train_rows = [np.flatnonzero((sites == s) & (split == TRAIN)) for s in range(len(site_ids))]
    state = source.fit(table, train_rows)
    table = source.transform(table, state).select_features(config.features)
    reports = _site_reports(table, train_rows)
    pooled = combine(reports)
    mean, std = _row_scaling(reports, pooled, sites, config.normalization == "site")
    values = standardise(table.values, mean, std)
    edges = _bin_edges(values, table.labels, train_rows, config)
    if edges:
        values = encode_bins(values, edges)
    length = config.sequence_length
    machine_codes, _ = pd.factorize(pd.Series(table.machines), sort=False)
    starts = run_starts(sites, split, machine_codes)
    pools = split_window_ends(starts, split, table, config, seed, pad_short=True)
    site_data = {}
    for code, site_id in enumerate(site_ids):
        ends = {}
        for split_code, name in enumerate(SPLIT_NAMES):
            pool = pools[split_code]
            ends[name] = pool[(sites[pool] == code) & (split[pool] == split_code)]
            in_split = (sites == code) & (split == split_code)
            _check_windows(site_id, name, ends[name].size, in_split, starts, table, length)
        meta = _site_metadata(table, np.flatnonzero(sites == code), split, ends)
        site_data[site_id] = _site_data(site_id, values, table, ends, length, meta, starts)
    regression = config.task == "rul"
    if not regression:
        _warn_sites_without_failures(site_data)
    spec = _spec(source, table, config, pooled, reports, site_ids, state, edges)
    return FederatedData(sites=site_data, preprocessing=spec, fingerprint=table.fingerprint,
                         num_classes=1 if regression else 2)


def _spec(
    source: DataSource,
    table: SourceTable,
    config: DataConfig,
    pooled: SufficientStats,
    reports: list[SufficientStats],
    site_ids: list[str],
    state: dict[str, Any],
    edges: list[list[float]],
) -> PreprocessingSpec:
    options = {**table.options, "normalization": config.normalization, "transform": state}
    if config.normalization == "site":
        options["site_statistics"] = {
            site_id: {"mean": r.mean.tolist(), "std": r.std.tolist()}
            for site_id, r in zip(site_ids, reports, strict=True)
        }
    return PreprocessingSpec(
        source=source.name,
        feature_names=list(table.feature_names),
        sequence_length=config.sequence_length,
        mean=pooled.mean.tolist(),
        std=pooled.std.tolist(),
        source_options=options,
        bin_edges=edges,
    )
