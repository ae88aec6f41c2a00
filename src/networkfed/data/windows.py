"""Sliding windows that stay inside one run of rows (one machine, one site, one split).

Rows arrive sorted so that each machine's rows of one split are contiguous and in time
order. A *run* is a maximal stretch of rows with the same key; a window of ``length`` rows
ends at every row that has at least ``length - 1`` rows of its own run before it. The label of
a window is the label of its last row.

The one exception is a run scored at its last row only (a C-MAPSS test engine) that is shorter
than the window: :func:`last_row_ends` keeps it, and :func:`gather_windows` given the runs'
starts pads its window by repeating the run's first row backwards (the sensors' earliest
known state stands in for the unrecorded cycles before it), rather than leaving the engine out
of the scores or reading another engine's rows.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "gather_windows", "last_row_ends", "last_window_ends", "run_starts", "truncated_window_ends",
    "window_ends",
]


def run_starts(*keys: np.ndarray) -> np.ndarray:
    """For each row, the index of the first row of its run (where no key changes)."""
    n = keys[0].shape[0] if keys else 0
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
    for key in keys:
        key = np.asarray(key)
        change[1:] |= key[1:] != key[:-1]
    return np.maximum.accumulate(np.where(change, np.arange(n), 0)) if n else np.zeros(0, int)


def window_ends(starts: np.ndarray, length: int) -> np.ndarray:
    """Row indices at which a full window of ``length`` rows of the same run ends."""
    positions = np.arange(starts.size)
    return positions[positions - starts >= length - 1]


def last_window_ends(starts: np.ndarray, length: int) -> np.ndarray:
    """The last full window of each run (C-MAPSS evaluates each test engine there)."""
    ends = window_ends(starts, length)
    if ends.size == 0:
        return ends
    is_last = np.r_[starts[ends[1:]] != starts[ends[:-1]], True]
    return ends[is_last]


def last_row_ends(starts: np.ndarray) -> np.ndarray:
    """The last row of each run, however short the run (its window is padded by
    :func:`gather_windows`)."""
    if starts.size == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(np.r_[starts[1:] != starts[:-1], True])


def truncated_window_ends(
    starts: np.ndarray, length: int, cuts: int, rng: np.random.Generator
) -> np.ndarray:
    """The last window of ``cuts`` copies of each run, each truncated at a random row.

    A test file made of runs stopped "some time before failure" is scored at each run's last
    window; truncating a run at a row drawn uniformly among its window ends and taking the
    last window is the same draw on runs whose end is known. ``cuts`` distinct rows per run
    (all of them when it has fewer), in row order.
    """
    ends = window_ends(starts, length)
    runs = np.split(ends, np.flatnonzero(np.diff(starts[ends])) + 1) if ends.size else []
    chosen = [rng.choice(run, size=min(cuts, run.size), replace=False) for run in runs]
    return np.sort(np.concatenate(chosen)) if chosen else ends


def gather_windows(
    values: np.ndarray, ends: np.ndarray, length: int, starts: np.ndarray | None = None
) -> np.ndarray:
    """Stack the windows ending at ``ends`` into ``(len(ends), length, F)`` float32.

    With ``starts`` (:func:`run_starts`), a window whose run has fewer than ``length`` rows
    up to its end repeats the run's first row backwards to ``length`` rows. Full windows use
    a strided view, so only the selected windows are copied.
    """
    values = np.asarray(values, dtype=np.float32)
    features = values.shape[1]
    if ends.size == 0:
        return np.zeros((0, length, features), dtype=np.float32)
    if starts is not None:
        first = starts[ends]
        if np.any(ends - first < length - 1):
            rows = ends[:, None] + np.arange(1 - length, 1)[None, :]
            return np.ascontiguousarray(values[np.maximum(rows, first[:, None])])
    view = sliding_window_view(values, length, axis=0)  # (n - length + 1, F, length)
    return np.ascontiguousarray(view[ends - length + 1].transpose(0, 2, 1))
