"""The data layer's public entry points: training data for a run, and new data to predict on."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data.assemble import build_federated_data
from networkfed.data.bins import encode_bins
from networkfed.data.config import DataConfig
from networkfed.data.pipeline import (
    assign_sites,
    assign_splits,
    fit_window_to_split,
    order_rows,
    resolve_split,
    warn_group_leak,
    with_split,
)
from networkfed.data.rul import with_rul_target
from networkfed.data.sources import SourceTable, get_source
from networkfed.data.standardize import standardise
from networkfed.data.types import FederatedData, PreprocessingSpec
from networkfed.data.windows import gather_windows, run_starts, window_ends

__all__ = ["load_federated_data", "prepare_new_data", "training_features"]

logger = logging.getLogger(__name__)


def load_federated_data(config: DataConfig, seed: int) -> FederatedData:
    """Every site's standardised train / validation / test windows for one experiment.

    Reads (or generates) the configured source, validates it, partitions it into sites,
    splits each site so no window crosses a split, computes the standardisation federatedly
    from the sites' training statistics and cuts windows inside one machine. Same
    ``(config, seed)``, same tensors.

    Raises
    ------
    DataValidationError
        If a file is missing, not a table, or has bad columns, cells or labels; or if a site
        or split ends up with no window.
    ConfigError
        If an option does not fit the data (e.g. ``num_sites`` for a natural partition).
    """
    source = get_source(config.dataset)
    table = order_rows(with_rul_target(source.load(config, seed), config))
    if table.labels is None:
        raise DataValidationError("training data needs a label column", path=table.path)
    split_mode, reason = resolve_split(config, source, table)
    config = fit_window_to_split(config, split_mode)
    table = with_split(table, split_mode, reason, config.sequence_length)
    sites, site_ids = assign_sites(table, config, split_mode, seed)
    split = assign_splits(table, sites, config, split_mode, seed)
    warn_group_leak(table, split, split_mode)
    data = build_federated_data(source, table, sites, site_ids, split, config, seed)
    logger.info(
        "loaded %s (split: %s): %d sites, %d training windows, %d features",
        config.dataset,
        split_mode,
        len(site_ids),
        sum(s.num_train_examples for s in data.sites.values()),
        data.input_dim,
    )
    return data


def prepare_new_data(
    path: str | Path, spec: PreprocessingSpec, *, site_id: str | None = None
) -> tuple[torch.Tensor, pd.DataFrame]:
    """Prepare a new file exactly like the training data of the run that made ``spec``.

    Same reader and validation rules, same features, the run's standardisation statistics,
    windows of the run's length inside one machine (a label column is optional here). After
    a run with ``normalization="site"``, ``site_id`` (required there) picks that site's
    statistics; other runs use the federated statistics, whatever the site.

    Returns
    -------
    x
        ``(n, sequence_length, n_features)`` float32 windows.
    frame
        The file's row on which each window ends (its original columns), in window order,
        so predictions can be written next to them.
    """
    source = get_source(spec.source)
    table = source.read_new(Path(path), spec.source_options)
    table = order_rows(source.transform(table, spec.source_options.get("transform", {})))
    table = training_features(table, spec, path)
    scaling = _scaling(spec, site_id)
    values = standardise(table.values, np.asarray(scaling["mean"]), np.asarray(scaling["std"]))
    if spec.bin_edges:
        values = encode_bins(values, spec.bin_edges)
    return _windows_and_rows(table, values, spec.sequence_length, path)


def training_features(
    table: SourceTable, spec: PreprocessingSpec, path: str | Path | None
) -> SourceTable:
    """``table`` with exactly the run's features, in its order (a run may have used a subset
    of the source's features: ``DataConfig.features``)."""
    missing = [name for name in spec.feature_names if name not in table.feature_names]
    if missing:
        raise DataValidationError(
            f"features {table.feature_names} lack the training features {missing} "
            f"(the run used {spec.feature_names})",
            path=path,
        )
    return table.select_features(spec.feature_names)


def _scaling(spec: PreprocessingSpec, site_id: str | None) -> dict[str, Any]:
    """The standardisation statistics for a file from ``site_id``.

    A run with ``normalization="site"`` trained every site on its own statistics, so a file
    must name its site: the pooled statistics would shift every input of that site.
    """
    per_site = spec.source_options.get("site_statistics", {})
    if not per_site:
        return spec.to_dict()
    if site_id not in per_site:
        raise ConfigError(
            "site", site_id,
            "the site the file comes from, one of " + ", ".join(sorted(per_site))
            + ' (the run standardised each site with its own statistics: normalization="site")',
        )
    return dict(per_site[site_id])


def _windows_and_rows(
    table: SourceTable, values: np.ndarray, length: int, path: str | Path
) -> tuple[torch.Tensor, pd.DataFrame]:
    """Every full window of every machine, and the row each one ends on."""
    machine_codes, _ = pd.factorize(pd.Series(table.machines), sort=False)
    ends = window_ends(run_starts(machine_codes), length)
    if ends.size == 0:
        raise DataValidationError(
            f"fewer rows than one window: no machine has {length} rows (the run's sequence_length)",
            path=path,
        )
    x = torch.from_numpy(gather_windows(values, ends, length))
    if table.original is not None:
        return x, table.original.iloc[ends].reset_index(drop=True)
    return x, pd.DataFrame({"machine_id": table.machines[ends], "time": table.times[ends]})
