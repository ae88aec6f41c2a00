"""NASA C-MAPSS turbofan run-to-failure data, FD001-FD004 (whitespace separated, 26 columns).

Engines (units) are the machines; the label of a window is "fails within ``horizon``
cycles" (remaining useful life <= horizon at its last cycle). Train units are split into
train / validation by unit; the official test files with ``RUL_FD00x.txt`` are the test
split, evaluated on each test engine's last window. Natural sites are the four subsets.

FD002 and FD004 run at six operating conditions that shift every sensor, so sensors are
normalised per operating condition (the three settings, rounded, name the condition) with
statistics combined federatedly from the sites' training rows; the settings themselves are
then dropped, as are sensors that are constant within every condition.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data.config import DataConfig
from networkfed.data.sources.base import DataSource, SourceTable, fingerprint_of
from networkfed.data.splits import TEST
from networkfed.data.standardize import SufficientStats, combine, site_statistics
from networkfed.data.validation import numeric_column, read_table

__all__ = ["COLUMNS", "SUBSETS", "CMAPSSSource", "read_run_file"]

SUBSETS = ("FD001", "FD002", "FD003", "FD004")
SETTINGS = ("setting_1", "setting_2", "setting_3")
SENSORS = tuple(f"sensor_{i}" for i in range(1, 22))
COLUMNS = ("unit", "cycle", *SETTINGS, *SENSORS)
CONSTANT_TOLERANCE = 0.01
"""A sensor whose SD is below this in every operating condition is constant (the files
record two decimals)."""


def read_run_file(path: Path) -> pd.DataFrame:
    """One ``train_*`` / ``test_*`` file as a validated 26-column numeric frame."""
    frame = read_table(path, whitespace=True)
    if frame.shape[1] != len(COLUMNS):
        raise DataValidationError(
            f"expected {len(COLUMNS)} whitespace-separated columns (unit, cycle, 3 settings, "
            f"21 sensors), found {frame.shape[1]}",
            path=path,
        )
    frame.columns = list(COLUMNS)
    for column in COLUMNS:
        frame[column] = numeric_column(frame, column, path, first_line=1)
    return frame


def _read_rul(path: Path, units: np.ndarray) -> np.ndarray:
    frame = read_table(path, whitespace=True)
    values = numeric_column(frame, frame.columns[0], path, first_line=1)
    if values.size != units.size:
        raise DataValidationError(
            f"has {values.size} RUL values for {units.size} test units",
            path=path,
        )
    return values


def _condition_keys(frame: pd.DataFrame) -> np.ndarray:
    """Operating condition of each row: the three settings rounded to the six regimes."""
    altitude = np.rint(frame["setting_1"].to_numpy()).astype(np.int64)
    mach = np.rint(frame["setting_2"].to_numpy() * 100).astype(np.int64)
    throttle = np.rint(frame["setting_3"].to_numpy()).astype(np.int64)
    return altitude * 1_000_000 + mach * 1_000 + throttle


def _remaining_life(frame: pd.DataFrame, final_rul: np.ndarray | None) -> np.ndarray:
    """Cycles left at each row: to the unit's last cycle, plus the official RUL for test units."""
    last = frame.groupby("unit")["cycle"].transform("max").to_numpy()
    rul = last - frame["cycle"].to_numpy()
    if final_rul is not None:
        units = np.unique(frame["unit"].to_numpy())
        rul = rul + final_rul[np.searchsorted(units, frame["unit"].to_numpy())]
    return rul.astype(np.float64)


def _subset_table(folder: Path, subset: str, part: str, horizon: int) -> SourceTable:
    path = folder / f"{part}_{subset}.txt"
    frame = read_run_file(path)
    final = None
    if part == "test":
        final = _read_rul(folder / f"RUL_{subset}.txt", np.unique(frame["unit"].to_numpy()))
    rul = _remaining_life(frame, final)
    units = frame["unit"].to_numpy().astype(np.int64)
    return SourceTable(
        values=frame[[*SETTINGS, *SENSORS]].to_numpy(np.float64),
        feature_names=[*SETTINGS, *SENSORS],
        labels=(rul <= horizon).astype(np.int64),
        machines=np.array([f"{subset}-{part}-{u:03d}" for u in units], dtype=object),
        times=frame["cycle"].to_numpy(np.float64),
        natural_sites=np.full(len(frame), subset, dtype=object),
        fixed_split=np.full(len(frame), TEST if part == "test" else -1, dtype=np.int64),
        extras={"rul": rul, "operating_condition": _condition_keys(frame)},
        path=path,
    )


def _concatenate(tables: list[SourceTable]) -> dict[str, Any]:
    first = tables[0]
    return {
        "values": np.concatenate([t.values for t in tables]),
        "feature_names": list(first.feature_names),
        "labels": np.concatenate([t.labels for t in tables]),
        "machines": np.concatenate([t.machines for t in tables]),
        "times": np.concatenate([t.times for t in tables]),
        "natural_sites": np.concatenate([t.natural_sites for t in tables]),
        "fixed_split": np.concatenate([t.fixed_split for t in tables]),
        "extras": {k: np.concatenate([t.extras[k] for t in tables]) for k in first.extras},
    }


class CMAPSSSource(DataSource):
    """C-MAPSS subsets as sites; engines as machines; label = fails within the horizon."""

    name: ClassVar[str] = "cmapss"
    summary: ClassVar[str] = (
        "NASA C-MAPSS turbofans FD001-FD004; natural sites = subsets; label = fails within "
        "horizon cycles; split by engine; test = official test files (last window)"
    )
    options: ClassVar[dict[str, str]] = {
        "data_path": "folder holding train_/test_/RUL_FD00x.txt",
        "subsets": "FD001,FD002,FD003,FD004 (default all)",
        "horizon": "failure horizon in cycles (default 30)",
        "partition": "natural (one site per subset) | iid | dirichlet | quantity (by engine)",
    }
    default_split: ClassVar[str] = "machine"

    def load(self, config: DataConfig, seed: int) -> SourceTable:
        folder = _folder(config.data_path)
        unknown = [s for s in config.subsets if s not in SUBSETS]
        if unknown or not config.subsets:
            raise ConfigError("subsets", list(config.subsets), f"some of {', '.join(SUBSETS)}")
        tables = [
            _subset_table(folder, subset, part, config.horizon)
            for subset in config.subsets
            for part in ("train", "test")
        ]
        files = [folder / f"{p}_{s}.txt" for s in config.subsets for p in ("train", "test", "RUL")]
        options = {"dataset": self.name, "horizon": config.horizon, "subsets": list(config.subsets)}
        # the loader adds the resolved split and window (pipeline.with_split)
        shaping = config.model_dump(mode="json", exclude={"split", "sequence_length"})
        settings = {**options, "config": shaping}
        return SourceTable(
            **_concatenate(tables),
            path=folder,
            options=options,
            fingerprint=fingerprint_of(files, settings),
            test_last_window_only=True,
        )

    def read_new(self, path: Path, options: dict[str, Any]) -> SourceTable:
        """One file in the ``test_FD00x.txt`` layout; every window of every engine."""
        frame = read_run_file(path)
        units = frame["unit"].to_numpy().astype(np.int64)
        return SourceTable(
            values=frame[[*SETTINGS, *SENSORS]].to_numpy(np.float64),
            feature_names=[*SETTINGS, *SENSORS],
            labels=None,
            machines=units.astype(str).astype(object),
            times=frame["cycle"].to_numpy(np.float64),
            extras={"operating_condition": _condition_keys(frame)},
            original=frame,
            path=path,
        )

    def fit_report(self, table: SourceTable, train_rows: np.ndarray) -> dict[str, Any]:
        """Per operating condition: count, sums and sums of squares of the site's rows."""
        conditions = table.extras["operating_condition"][train_rows]
        report = {}
        for key in np.unique(conditions):
            stats = site_statistics(table.values[train_rows[conditions == key]])
            report[str(int(key))] = {"count": stats.count, "total": stats.total.tolist(),
                                     "total_sq": stats.total_sq.tolist()}
        return {"feature_names": list(table.feature_names), "conditions": report}

    def fit_combine(self, reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Per-condition mean / SD of all sites' training rows; which sensors carry signal."""
        names = reports[0]["feature_names"]
        parts: dict[int, list[SufficientStats]] = {}
        for report in reports:
            if report["feature_names"] != names:
                raise DataValidationError(
                    f"sites report different columns: {report['feature_names']} and {names}")
            for key, stats in report["conditions"].items():
                parts.setdefault(int(key), []).append(SufficientStats(
                    int(stats["count"]), np.asarray(stats["total"], dtype=np.float64),
                    np.asarray(stats["total_sq"], dtype=np.float64)))
        pooled = {key: combine(found) for key, found in parts.items()}
        spread = np.max([stats.raw_std for stats in pooled.values()], axis=0)
        kept = [
            name
            for name, sd in zip(names, spread, strict=True)
            if name in SENSORS and sd >= CONSTANT_TOLERANCE
        ]
        return {
            "kept_features": kept,
            "conditions": {
                str(key): {"mean": stats.mean.tolist(), "std": stats.std.tolist()}
                for key, stats in sorted(pooled.items())
            },
        }

    def transform(self, table: SourceTable, state: dict[str, Any]) -> SourceTable:
        """Normalise each row by its condition's training statistics; keep informative sensors."""
        keys = sorted(state["conditions"], key=int)
        lookup = np.array([int(k) for k in keys])
        rows_condition = table.extras["operating_condition"]
        index = np.searchsorted(lookup, rows_condition).clip(0, len(keys) - 1)
        unseen = lookup[index] != rows_condition
        if unseen.any():
            raise DataValidationError(
                "operating condition (settings) not seen in the training data",
                path=table.path,
                column="setting_1",
                rows=(np.flatnonzero(unseen) + 1).tolist(),
            )
        mean = np.array([state["conditions"][k]["mean"] for k in keys])[index]
        std = np.array([state["conditions"][k]["std"] for k in keys])[index]
        columns = [table.feature_names.index(name) for name in state["kept_features"]]
        values = (table.values - mean)[:, columns] / std[:, columns]
        return replace(table, values=values, feature_names=list(state["kept_features"]))


def _folder(data_path: Path | None) -> Path:
    if data_path is None:
        raise ConfigError("data_path (--data-path)", None, "the folder holding the C-MAPSS files")
    folder = Path(data_path)
    if not folder.is_dir():
        raise DataValidationError(
            "is not a folder (expected the one holding train_FD00x.txt, test_FD00x.txt and "
            "RUL_FD00x.txt)",
            path=folder,
        )
    return folder
