"""Remaining useful life (RUL) as the target of a run (``DataConfig.task = "rul"``).

Sources that know each row's remaining life put it in ``SourceTable.extras["rul"]``: C-MAPSS
(cycles to the engine's last cycle, plus ``RUL_FD00x.txt`` for the official test engines) and
a CSV with a ``rul_column`` or ``run_to_failure`` groups. :func:`with_rul_target` turns it
into the regression target, capped at ``rul_cap`` cycles: the piecewise-linear target of the
C-MAPSS literature, because early in a run the sensors do not tell 200 cycles left from 300,
and an uncapped target makes the network chase that noise.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from networkfed.core.errors import ConfigError, DataValidationError
from networkfed.data.config import DataConfig
from networkfed.data.sources.base import SourceTable

__all__ = ["capped_rul", "remaining_life_of_groups", "with_rul_target"]


def capped_rul(rul: np.ndarray, cap: int) -> np.ndarray:
    """``min(rul, cap)`` as float64: the piecewise-linear target (flat, then counting down)."""
    return np.minimum(np.asarray(rul, dtype=np.float64), float(cap))


def remaining_life_of_groups(machines: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Run-to-failure groups: each row's time to its group's last time (that row fails)."""
    codes = np.unique(machines, return_inverse=True)[1].reshape(-1)
    last = np.full(int(codes.max()) + 1 if codes.size else 0, -np.inf)
    np.maximum.at(last, codes, times)
    return (last[codes] - times).astype(np.float64)


def with_rul_target(table: SourceTable, config: DataConfig) -> SourceTable:
    """``table`` with labels = capped remaining life when ``config.task == "rul"``.

    The classification labels are unchanged otherwise. A source without remaining life is
    refused (:class:`ConfigError`, exit code 2): a RUL run needs C-MAPSS or a CSV with
    ``--rul-column`` / ``--run-to-failure``.
    """
    if config.task != "rul":
        return table
    rul = table.extras.get("rul")
    if rul is None:
        raise ConfigError(
            "task", "rul",
            f"a source of remaining life: dataset {config.dataset!r} has none (use cmapss, or "
            "csv with --rul-column or --run-to-failure)",
        )
    if not np.isfinite(rul).all() or (rul < 0).any():
        bad = np.flatnonzero(~np.isfinite(rul) | (rul < 0))
        raise DataValidationError("negative or missing remaining life", path=table.path,
                                  column="rul", rows=(bad[:10] + 1).tolist())
    options = {**table.options, "task": "rul", "rul_cap": config.rul_cap}
    return replace(table, labels=capped_rul(rul, config.rul_cap), options=options)
