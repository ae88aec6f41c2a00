"""What every data source hands to the preparation pipeline, and the source interface.

A source reads and validates its files (or generates rows), derives the feature columns and
returns one :class:`SourceTable`: a row-aligned bundle of feature values, labels, machine
ids, time stamps and, where the source has them, natural sites and a fixed test split. Every
step after that (partition, split, standardise, window) is source-independent.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from networkfed.core.errors import ConfigError
from networkfed.data.config import DataConfig

__all__ = ["DataSource", "SourceTable", "fingerprint_of"]


@dataclass(frozen=True)
class SourceTable:
    """Rows of one source, all arrays aligned on the row axis.

    Attributes
    ----------
    values
        ``(n, F)`` float64 features (finite, validated), columns named by ``feature_names``.
    labels
        ``(n,)`` int64 0/1, or ``None`` for new data without a label column.
    machines
        Machine id per row; windows never span two machines.
    times
        Time order within a machine (cycle, step, row number).
    natural_sites
        The source's own site of each row (plant, product type, subset), or ``None``.
    fixed_split
        Split code per row where the source dictates it (C-MAPSS test files), else ``-1``;
        ``None`` when the source dictates nothing.
    extras
        Other per-row columns kept for metadata (e.g. C-MAPSS ``rul``, ``operating_condition``).
    original
        The rows as read from the file (for ``prepare_new_data``'s frame), if kept.
    """

    values: np.ndarray
    feature_names: list[str]
    labels: np.ndarray | None
    machines: np.ndarray
    times: np.ndarray
    natural_sites: np.ndarray | None = None
    fixed_split: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    original: pd.DataFrame | None = None
    path: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    test_last_window_only: bool = False

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, rows: np.ndarray) -> SourceTable:
        """The same table restricted to (and reordered by) ``rows``."""

        def pick(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[rows]

        return replace(
            self,
            values=self.values[rows],
            labels=pick(self.labels),
            machines=self.machines[rows],
            times=self.times[rows],
            natural_sites=pick(self.natural_sites),
            fixed_split=pick(self.fixed_split),
            extras={name: column[rows] for name, column in self.extras.items()},
            original=None if self.original is None else self.original.iloc[rows],
        )

    def select_features(self, names: Sequence[str] | None) -> SourceTable:
        """The same rows with only the features ``names``, in that order (``None``: all).

        Raises
        ------
        ConfigError
            If a name is not one of this table's features (the message lists them).
        """
        if names is None or list(names) == list(self.feature_names):
            return self
        for name in names:
            if name not in self.feature_names:
                raise ConfigError("features", name, "one of " + ", ".join(self.feature_names))
        columns = [self.feature_names.index(name) for name in names]
        return replace(self, values=self.values[:, columns], feature_names=list(names))


class DataSource(ABC):
    """One kind of input: reads files (or generates rows) into a :class:`SourceTable`.

    ``fit_report`` / ``fit_combine`` / ``transform`` are the hook for source-specific
    preprocessing fitted on the training rows, federatedly (C-MAPSS per-operating-condition
    normalisation): each site reports statistics of its own training rows (JSON-ready, so a
    deployed site can send them to the server), the server combines the reports into a state,
    and every site transforms its rows with that state. The default fits nothing.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options: ClassVar[dict[str, str]]
    default_split: ClassVar[str]

    def auto_split(self, config: DataConfig, table: SourceTable) -> tuple[str, str]:
        """How this source's rows are split when the configuration says ``auto``, and why
        (shown by ``networkfed datasets describe``)."""
        return self.default_split, f"the {self.name} source's own split"

    @abstractmethod
    def load(self, config: DataConfig, seed: int) -> SourceTable:
        """Read, validate and featurise everything the configuration names."""

    @abstractmethod
    def read_new(self, path: Path, options: dict[str, Any]) -> SourceTable:
        """Read a new file exactly like training data; the label is optional here."""

    def fit_report(self, table: SourceTable, train_rows: np.ndarray) -> dict[str, Any]:
        """Site side: what the fit needs from one site's training rows (empty: nothing)."""
        return {}

    def fit_combine(self, reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Server side: the preprocessing state from every site's :meth:`fit_report`."""
        return {}

    def fit(self, table: SourceTable, train_rows: list[np.ndarray]) -> dict[str, Any]:
        """Fit on each site's training rows (one array per site), as a federation would."""
        return self.fit_combine([self.fit_report(table, rows) for rows in train_rows])

    def transform(self, table: SourceTable, state: dict[str, Any]) -> SourceTable:
        """Apply what :meth:`fit` learnt; identity by default."""
        return table


def fingerprint_of(paths: list[Path], settings: dict[str, Any]) -> str:
    """sha256 over the files' bytes and the settings that shaped the data."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()
