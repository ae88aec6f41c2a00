"""A Flower site's own data: one partition in simulation, one plant's files in deployment.

*Simulation* (Flower gives each virtual SuperNode a ``partition-id``): the site is partition
``partition-id`` of the run's data, loaded from the run's data settings exactly as the
in-process engine loads it (cached per process, checked by fingerprint), so both engines train
on identical tensors.

*Deployment* (a plant's ``--node-config "site-id='...' data-path='...'"``): the site reads only
its own file with the federation's data settings, in two steps that keep raw rows at the site:

1. :func:`site_report` — counts, label counts and the sufficient statistics (``n``, sums, sums
   of squares) of its training rows, which the server combines into the shared
   standardisation (:mod:`networkfed.flower.federation_data`);
2. :func:`deployed_site_data` — its windows, standardised with the statistics the server sent.

A source whose preprocessing is itself fitted on the training rows (C-MAPSS's
per-operating-condition normalisation) adds one exchange before step 1: the site reports that
fit's statistics too (``source_fit``), the server combines them into the transform state and
asks again, and the site then reports the statistics of its *transformed* training rows — the
same flow, and the same numbers, as the in-process pipeline.

With bin columns (``DataConfig.feature_bins``) one more exchange follows step 1: the server
sends the shared standardisation and each site answers with per-class histograms of its
standardised training rows (:func:`site_histograms`); the server fits the bin edges from their
sum and sends them with the preprocessing, so each site's windows get the same bin columns as
in-process.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data import DataConfig, FederatedData, load_federated_data
from networkfed.data.assemble import split_window_ends
from networkfed.data.bins import class_histograms, encode_bins
from networkfed.data.label_stats import label_statistics
from networkfed.data.loading import training_features
from networkfed.data.pipeline import (
    assign_splits,
    fit_window_to_split,
    order_rows,
    resolve_split,
    warn_group_leak,
    with_split,
)
from networkfed.data.rul import with_rul_target
from networkfed.data.sources import DataSource, SourceTable, get_source
from networkfed.data.splits import SPLIT_NAMES, TRAIN
from networkfed.data.standardize import site_statistics, standardise
from networkfed.data.types import PreprocessingSpec, SiteData, SplitTensors
from networkfed.data.windows import gather_windows, run_starts

__all__ = [
    "SiteTable",
    "deployed_site_data",
    "local_data_config",
    "simulation_site",
    "site_histograms",
    "site_report",
    "site_table",
]

# --- simulation ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _simulation_data(data_json: str, seed: int) -> FederatedData:
    return load_federated_data(DataConfig.model_validate_json(data_json), seed)


def simulation_site(data_json: str, seed: int, fingerprint: str, partition_id: int) -> SiteData:
    """Partition ``partition_id`` of the run's data (the sites in the run's order)."""
    data = _simulation_data(data_json, seed)
    if data.fingerprint != fingerprint:
        raise DataValidationError(
            f"the data loaded here (fingerprint {data.fingerprint[:12]}) differs from the "
            f"server's ({fingerprint[:12]})",
            hint="the Flower engine loads each site from the run's data settings; pass data "
            "that load_federated_data(config.data, config.seed) reproduces",
        )
    if not 0 <= partition_id < len(data.site_ids):
        raise ConfigError("partition-id", partition_id, f"0..{len(data.site_ids) - 1}")
    return data.sites[data.site_ids[partition_id]]


# --- deployment -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SiteTable:
    """One site's rows, ordered, with a split code per row (no row leaves the site)."""

    site_id: str
    table: SourceTable
    split: np.ndarray
    config: DataConfig
    seed: int

    @property
    def sequence_length(self) -> int:
        return self.config.sequence_length

    @property
    def source(self) -> DataSource:
        return get_source(self.config.dataset)

    def transformed(self, state: dict[str, Any] | None) -> SourceTable:
        """The rows after the source's fitted preprocessing (``state`` from the server)."""
        return self.source.transform(self.table, state) if state else self.table

    @functools.cached_property
    def run_starts(self) -> np.ndarray:
        """Per row, the index of the first row of its run (one machine within one split)."""
        machines, _ = pd.factorize(pd.Series(self.table.machines), sort=False)
        return run_starts(self.split, machines)

    def window_ends(self) -> dict[str, np.ndarray]:
        """Row index at which each window of each split ends (windows stay in one run; a
        C-MAPSS test engine is scored at its last window, padded when it is shorter than the
        window, as in the in-process pipeline)."""
        pools = split_window_ends(self.run_starts, self.split, self.table, self.config,
                                  self.seed, pad_short=True)
        return {
            name: pools[code][self.split[pools[code]] == code]
            for code, name in enumerate(SPLIT_NAMES)
        }


def local_data_config(
    federation: DataConfig, site_id: str, node_config: dict[str, Any]
) -> DataConfig:
    """The federation's data settings with this site's own data: its path, its one site.

    A C-MAPSS site's ``data-path`` is a folder with its own engines' run files: the site reads
    those of the federation's subsets that the folder holds (``train_FD00x.txt`` and the
    matching ``test_`` / ``RUL_`` files).
    """
    path = node_config.get("data-path")
    if federation.dataset != "synthetic" and not path:
        raise ConfigError("data-path", path, "the site's data file in --node-config")
    updates: dict[str, Any] = {"partition": "natural", "num_sites": None, "sites": (site_id,)}
    if path:
        updates["data_path"] = Path(str(path)).expanduser()
    if federation.dataset == "cmapss":
        updates["subsets"] = _subsets_in(Path(str(path)).expanduser(), federation.subsets)
    return federation.model_copy(update=updates)


def _subsets_in(folder: Path, subsets: tuple[str, ...]) -> tuple[str, ...]:
    present = tuple(s for s in subsets if (folder / f"train_{s}.txt").is_file())
    if not present:
        raise DataValidationError(
            f"holds no train file of the federation's subsets ({', '.join(subsets)})",
            path=folder, hint="a C-MAPSS site's data-path is the folder with its "
            "train_FD00x.txt, test_FD00x.txt and RUL_FD00x.txt",
        )
    return present


@functools.lru_cache(maxsize=2)
def _cached_site_table(config_json: str, site_id: str, seed: int) -> SiteTable:
    config = DataConfig.model_validate_json(config_json)
    source = get_source(config.dataset)
    table = order_rows(with_rul_target(source.load(config, seed), config))
    if table.labels is None:
        raise DataValidationError("training data needs a label column", path=table.path)
    everyone = np.zeros(len(table), dtype=np.int64)  # a plant's file is one site
    mode, reason = resolve_split(config, source, table)
    config = fit_window_to_split(config, mode)
    table = with_split(table, mode, reason, config.sequence_length)
    split = assign_splits(table, everyone, config, mode, seed)
    warn_group_leak(table, split, mode)
    order = np.argsort(split, kind="stable")  # contiguous splits, as the in-process pipeline
    return SiteTable(site_id, table.take(order), split[order], config, seed)


def site_table(config: DataConfig, site_id: str, seed: int) -> SiteTable:
    """Read and split this site's rows (cached: a SuperNode may ask twice in one process)."""
    return _cached_site_table(config.model_dump_json(), site_id, seed)


def site_report(site: SiteTable, transform: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the site tells the server before training: sizes and sufficient statistics only.

    ``source_fit`` is the site's part of the source's fitted preprocessing (empty for most
    sources). ``transform`` is the state the server combined from those parts: the
    statistics are then those of the transformed rows, which the standardisation needs.
    """
    ends = site.window_ends()
    labels = site.table.labels if site.table.labels is not None else np.zeros(0, np.int64)
    for name, found in ends.items():
        if found.size == 0:
            raise DataValidationError(
                f"site '{site.site_id}' has no {name} window of sequence_length="
                f"{site.sequence_length}", path=site.table.path,
                hint="use a shorter --sequence-length or more rows per machine"
                + ("; for short episodes, --split machine keeps each one whole"
                   if site.table.options.get("split") == "time" else ""),
            )
    train_rows = np.flatnonzero(site.split == TRAIN)
    table = site.transformed(transform).select_features(site.config.features)
    stats = site_statistics(table.values[train_rows])
    row_labels = labels[train_rows] if labels.size else np.zeros(train_rows.size, np.int64)
    with_labels = label_statistics(table.values[train_rows], row_labels)
    return {
        "site_id": site.site_id,
        "feature_names": list(table.feature_names),
        "label_counts": _label_counts(labels, ends),
        "windows": {name: int(e.size) for name, e in ends.items()},
        "count": stats.count,
        "total": stats.total.tolist(),
        "total_sq": stats.total_sq.tolist(),
        "label_total": with_labels.label_total,  # with "cross": the health check's sums
        "cross": with_labels.cross.tolist(),
        "source_fit": {} if transform else site.source.fit_report(site.table, train_rows),
        "transformed": bool(transform),
        "fingerprint": site.table.fingerprint,
        "options": json.loads(json.dumps(site.table.options, default=str)),
    }


def _label_counts(labels: np.ndarray, ends: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """Windows per class and split; none for a RUL target (remaining life has no classes, and
    the server needs only the window counts, ``windows``)."""
    if np.issubdtype(labels.dtype, np.floating):
        return {}
    return {name: np.bincount(labels[e], minlength=2)[:2].tolist() for name, e in ends.items()}


def _standardised(site: SiteTable, spec: PreprocessingSpec) -> tuple[SourceTable, np.ndarray]:
    """The site's rows with the run's features, standardised with the federation's (or, with
    ``site`` scaling, its own reported) statistics."""
    table = site.transformed(spec.source_options.get("transform"))
    table = training_features(table, spec, site.table.path)
    scaling = spec.source_options.get("site_statistics", {}).get(site.site_id, spec.to_dict())
    values = standardise(table.values, np.asarray(scaling["mean"]), np.asarray(scaling["std"]))
    return table, values


def site_histograms(site: SiteTable, spec: PreprocessingSpec) -> list[Any]:
    """Per-class counts of the site's standardised training rows on the bins' grid
    (:func:`networkfed.data.bins.class_histograms`): all the bin fit needs from a site."""
    table, values = _standardised(site, spec)
    train_rows = np.flatnonzero(site.split == TRAIN)
    labels = table.labels if table.labels is not None else np.zeros(len(table), np.int64)
    return class_histograms(values[train_rows], labels[train_rows]).tolist()


def deployed_site_data(site: SiteTable, spec: PreprocessingSpec) -> SiteData:
    """The site's windows, transformed and standardised with the federation's statistics,
    with the federation's bin columns when it has them."""
    table, values = _standardised(site, spec)
    if spec.bin_edges:
        values = encode_bins(values, spec.bin_edges)
    labels = table.labels if table.labels is not None else np.zeros(0, np.int64)
    splits = {
        name: SplitTensors(
            x=torch.from_numpy(gather_windows(values, ends, site.sequence_length,
                                              site.run_starts)),
            # a regression target (remaining life) stays a float, as in-process
            y=torch.from_numpy(labels[ends].astype(
                np.float32 if np.issubdtype(labels.dtype, np.floating) else np.int64)),
            machine_ids=table.machines[ends],
        )
        for name, ends in site.window_ends().items()
    }
    return SiteData(site.site_id, splits["train"], splits["val"], splits["test"])
