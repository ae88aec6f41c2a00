"""AI4I 2020 (UCI CSV with a UTF-8 BOM) and any file in its layout.

AI4I rows are one process stream in ``UDI`` order; the natural sites are the product
types L / M / H. The same reader serves the built-in telemetry when a user predicts on a CSV
exported in the AI4I layout (optionally with ``machine_id`` / ``step`` columns).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data.config import DataConfig
from networkfed.data.features import AI4I_FEATURES, AI4I_INPUT_COLUMNS, QUALITY_CODES, ai4i_features
from networkfed.data.sources.base import DataSource, SourceTable, fingerprint_of
from networkfed.data.validation import (
    check_binary_label,
    numeric_column,
    read_table,
    require_columns,
)

__all__ = ["AI4ISource", "read_ai4i_layout"]

LABEL = "Machine failure"
DEFAULT_FILE = "ai4i2020.csv"


def _quality_codes(frame: pd.DataFrame, path: Path) -> np.ndarray:
    types = frame["Type"].astype("string").str.strip()
    codes = types.map(QUALITY_CODES)
    bad = codes.isna().to_numpy()
    if bad.any():
        example = types[bad].iloc[0]
        raise DataValidationError(
            f"product type must be L, M or H; found {example!r}",
            path=path,
            column="Type",
            rows=(np.flatnonzero(bad) + 2).tolist(),
        )
    return codes.to_numpy(np.float64)


def read_ai4i_layout(
    path: Path, *, require_label: bool, time_column: str = "UDI", group_column: str = "machine_id"
) -> SourceTable:
    """Read and validate an AI4I-layout CSV into the ten default features.

    ``time_column`` orders rows (file order if absent); ``group_column``, if present, names
    the machine of each row (one process stream otherwise).
    """
    frame = read_table(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    require_columns(frame, AI4I_INPUT_COLUMNS + ((LABEL,) if require_label else ()), path)
    numeric = pd.DataFrame({c: numeric_column(frame, c, path) for c in AI4I_INPUT_COLUMNS[1:]})
    values = ai4i_features(numeric, _quality_codes(frame, path))
    labels = check_binary_label(frame, LABEL, path) if LABEL in frame.columns else None
    if time_column in frame.columns:
        times = numeric_column(frame, time_column, path)
    else:
        times = np.arange(len(frame), dtype=np.float64)
    if group_column in frame.columns:
        machines = frame[group_column].astype(str).to_numpy(dtype=object)
    else:
        machines = np.full(len(frame), "stream", dtype=object)
    sites = ("type_" + frame["Type"].astype(str).str.strip()).to_numpy(dtype=object)
    return SourceTable(
        values=values,
        feature_names=list(AI4I_FEATURES),
        labels=labels,
        machines=machines,
        times=times,
        natural_sites=sites,
        original=frame,
        path=path,
    )


class AI4ISource(DataSource):
    """The UCI AI4I 2020 file: 10,000 rows, 339 failures; natural sites = product type."""

    name: ClassVar[str] = "ai4i2020"
    summary: ClassVar[str] = (
        "AI4I 2020 milling data (UCI CSV); natural sites = product type L/M/H; "
        "rows split stratified by label; windows over consecutive UDIs"
    )
    options: ClassVar[dict[str, str]] = {
        "data_path": "ai4i2020.csv (or the folder holding it)",
        "partition": "natural (type_L/M/H) | iid | dirichlet | quantity (by row)",
    }
    default_split: ClassVar[str] = "stratified"

    def load(self, config: DataConfig, seed: int) -> SourceTable:
        path = _resolve(config.data_path)
        table = read_ai4i_layout(path, require_label=True)
        settings = {"dataset": self.name, "label_column": LABEL, "time_column": "UDI"}
        # the loader adds the resolved split and window (pipeline.with_split)
        shaping = config.model_dump(mode="json", exclude={"split", "sequence_length"})
        fingerprint = fingerprint_of([path], {**settings, "config": shaping})
        return replace(table, original=None, options=settings, fingerprint=fingerprint)

    def read_new(self, path: Path, options: dict[str, Any]) -> SourceTable:
        return read_ai4i_layout(path, require_label=False)


def _resolve(data_path: Path | None) -> Path:
    if data_path is None:
        raise ConfigError("data_path (--data-path)", None, f"the path of {DEFAULT_FILE}")
    path = Path(data_path)
    return path / DEFAULT_FILE if path.is_dir() else path
