"""Any CSV table: the user names the label and, optionally, feature, site, machine and time columns.

Without ``feature_columns`` every other column that holds numbers is a feature (text columns
such as ids are skipped and logged). A ``site_column`` gives natural sites; a
``group_column`` names the machine of each row (one process stream otherwise); a
``time_column`` (numbers or dates) orders rows within a machine (file order otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data.config import DEFAULT_NUM_SITES, DataConfig
from networkfed.data.sources.base import DataSource, SourceTable, fingerprint_of
from networkfed.data.splits import label_constant_within_groups
from networkfed.data.validation import (
    check_binary_label,
    numeric_column,
    read_table,
    require_columns,
)

__all__ = ["CSVSource"]

logger = logging.getLogger(__name__)

_NUMERIC_SHARE = 0.9
"""A column counts as numeric (auto features) when this share of its cells parse as numbers."""

MIN_EPISODES_PER_SITE = 3
"""Groups a site needs before ``auto`` splits by group: one each for train, val and test."""


def _auto_features(frame: pd.DataFrame, named: set[str]) -> list[str]:
    features = []
    for column in frame.columns:
        if column in named:
            continue
        parsed = pd.to_numeric(frame[column], errors="coerce")
        if parsed.notna().mean() >= _NUMERIC_SHARE:
            features.append(str(column))
        else:
            logger.info("column %r is not numeric: not used as a feature", column)
    return features


def _times(frame: pd.DataFrame, column: str | None, path: Path) -> np.ndarray:
    if column is None:
        return np.arange(len(frame), dtype=np.float64)
    parsed = pd.to_numeric(frame[column], errors="coerce")
    if parsed.isna().any():
        dates = pd.to_datetime(frame[column], errors="coerce")
        if dates.notna().all():
            return dates.astype("int64").to_numpy(np.float64)
    return numeric_column(frame, column, path)


def _labels_column(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    missing = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
    if missing.any():
        raise DataValidationError(
            "missing value (a row without a site or machine)",
            path=path,
            column=column,
            rows=(np.flatnonzero(missing.to_numpy()) + 2).tolist(),
        )
    return frame[column].astype(str).str.strip().to_numpy(dtype=object)


def read_csv_table(path: Path, options: dict[str, Any], *, require_label: bool) -> SourceTable:
    """Read and validate a CSV with the columns named in ``options`` (see the module doc)."""
    frame = read_table(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    label = options["label_column"]
    roles = [options.get(k) for k in ("site_column", "group_column", "time_column")]
    named = [c for c in (label if require_label else None, *roles) if c is not None]
    require_columns(frame, named, path)
    features = options.get("feature_columns") or _auto_features(frame, {label, *named})
    require_columns(frame, features, path, what="feature column")
    if not features:
        raise DataValidationError(
            "no numeric feature column", path=path, hint="name them with --feature-columns"
        )
    values = np.column_stack([numeric_column(frame, c, path) for c in features])
    regression = options.get("task") == "rul"
    labels = (check_binary_label(frame, label, path)
              if label in frame.columns and not regression else None)
    site, group, time = roles
    stream = np.full(len(frame), "stream", dtype=object)
    return SourceTable(
        values=values,
        feature_names=list(features),
        labels=labels,
        machines=_labels_column(frame, group, path) if group else stream,
        times=_times(frame, time, path),
        natural_sites=_labels_column(frame, site, path) if site else None,
        original=frame,
        path=path,
    )


def _fewest_groups_per_site(table: SourceTable, config: DataConfig) -> int:
    """Groups of the site with the fewest: per natural site (a plant's own file in a Flower
    deployment is one site), or an even share of all groups when a partition scheme deals
    whole groups to ``num_sites`` sites."""
    groups = int(pd.unique(table.machines).size)
    if config.partition != "natural":
        return groups // (config.num_sites or DEFAULT_NUM_SITES)
    if table.natural_sites is None:
        return groups
    frame = pd.DataFrame({"site": table.natural_sites, "group": table.machines})
    return int(frame.groupby("site")["group"].nunique().min())


class CSVSource(DataSource):
    """A user's own table with named columns."""

    name: ClassVar[str] = "csv"
    summary: ClassVar[str] = (
        "any CSV: name the label and optionally feature, site, machine (group) and time "
        "columns; split stratified by row, by time within each machine, or by whole groups "
        "when the label is constant within each"
    )
    options: ClassVar[dict[str, str]] = {
        "data_path": "the CSV file",
        "label_column": "binary failure label (required)",
        "feature_columns": "features (default: every other numeric column)",
        "site_column": "natural sites (needed for --partition natural)",
        "group_column": "machine id: windows stay inside one machine",
        "time_column": "time order within a machine (numbers or dates)",
    }
    default_split: ClassVar[str] = "stratified"

    def auto_split(self, config: DataConfig, table: SourceTable) -> tuple[str, str]:
        """A plain table is split stratified by row; groups are cut in time, unless they look
        like episodes (short test cycles whose label is constant within each): those go to
        one split whole, or every test episode would also be a training episode."""
        if not config.group_column:
            return "stratified", "no --group-column: rows are dealt to the splits by class"
        group = config.group_column
        if table.labels is None or not label_constant_within_groups(table.machines, table.labels):
            return "time", f"the label changes within {group} groups: each is cut in time"
        fewest = _fewest_groups_per_site(table, config)
        if fewest < MIN_EPISODES_PER_SITE:
            return "time", (
                f"the label is constant within every {group} group, but a site has only "
                f"{fewest} groups (a split by {group} needs {MIN_EPISODES_PER_SITE})")
        return "machine", (f"the label is constant within every {group} group: groups are "
                           "episodes, so whole groups go to one split")

    def load(self, config: DataConfig, seed: int) -> SourceTable:
        if config.data_path is None:
            raise ConfigError("data_path (--data-path)", None, "the path of the CSV file")
        if config.task == "rul":
            return load_rul_csv(self, config)
        if not config.label_column:
            raise ConfigError("label_column (--label)", None, "the name of the CSV's label column")
        options = {
            "dataset": self.name,
            "label_column": config.label_column,
            "feature_columns": list(config.feature_columns) if config.feature_columns else None,
            "site_column": config.site_column,
            "group_column": config.group_column,
            "time_column": config.time_column,
        }
        path = Path(config.data_path)
        table = read_csv_table(path, options, require_label=True)
        options["feature_columns"] = list(table.feature_names)
        # the loader adds the resolved split and window (pipeline.with_split)
        settings = config.model_dump(mode="json", exclude={"split", "sequence_length"})
        fingerprint = fingerprint_of([path], {**options, "config": settings})
        return replace(table, original=None, options=options, fingerprint=fingerprint)

    def read_new(self, path: Path, options: dict[str, Any]) -> SourceTable:
        return read_csv_table(path, options, require_label=False)


def load_rul_csv(source: CSVSource, config: DataConfig) -> SourceTable:
    """A CSV for ``task = "rul"``: remaining life from ``rul_column`` (numeric, >= 0) or
    computed per group from its last time (``run_to_failure``); stored in ``extras["rul"]``,
    where :func:`networkfed.data.rul.with_rul_target` finds it as it does C-MAPSS's."""
    from networkfed.data.rul import remaining_life_of_groups

    if config.data_path is None:
        raise ConfigError("data_path (--data-path)", None, "the path of the CSV file")
    if not (config.rul_column or config.run_to_failure):
        raise ConfigError("task", "rul", "a source of remaining life for a CSV: "
                          "--rul-column NAME, or --run-to-failure with a --group-column")
    if config.run_to_failure and not config.group_column:
        raise ConfigError("run_to_failure (--run-to-failure)", True,
                          "a --group-column naming the machine that runs to failure")
    options = {
        "dataset": source.name, "task": "rul", "horizon": config.horizon,
        "label_column": config.rul_column,
        "feature_columns": list(config.feature_columns) if config.feature_columns else None,
        "site_column": config.site_column, "group_column": config.group_column,
        "time_column": config.time_column,
    }
    path = Path(config.data_path)
    table = read_csv_table(path, options, require_label=False)
    if config.rul_column:
        require_columns(table.original, [config.rul_column], path, what="RUL column")
        rul = numeric_column(table.original, config.rul_column, path)
        negative = np.flatnonzero(rul < 0)
        if negative.size:
            raise DataValidationError("remaining life must be >= 0", path=path,
                                      column=config.rul_column,
                                      rows=(negative + 2).tolist())
    else:
        rul = remaining_life_of_groups(table.machines, table.times)
    options["feature_columns"] = list(table.feature_names)
    settings = config.model_dump(mode="json", exclude={"split", "sequence_length"})
    fingerprint = fingerprint_of([path], {**options, "config": settings})
    return replace(table, original=None, options=options, fingerprint=fingerprint,
                   extras={"rul": rul.astype(np.float64)})
