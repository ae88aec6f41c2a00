"""Windows stay inside one run (machine x site x split) and carry their last row's label."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from networkfed.data.windows import (
    gather_windows,
    last_row_ends,
    last_window_ends,
    run_starts,
    truncated_window_ends,
    window_ends,
)

runs = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(1, 12)), max_size=12)


def _rows(spec: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    machines = np.concatenate([[m] * n for m, _, n in spec]) if spec else np.zeros(0, int)
    splits = np.concatenate([[s] * n for _, s, n in spec]) if spec else np.zeros(0, int)
    return machines.astype(np.int64), splits.astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(spec=runs, length=st.integers(1, 5))
def test_no_window_mixes_machines_or_splits(spec: list[tuple[int, int, int]], length: int) -> None:
    # Prepare
    machines, splits = _rows(spec)
    # Execute
    ends = window_ends(run_starts(machines, splits), length)
    # Assert
    for end in ends:
        window = slice(end - length + 1, end + 1)
        assert end - length + 1 >= 0
        assert np.unique(machines[window]).size == 1
        assert np.unique(splits[window]).size == 1


@settings(max_examples=60, deadline=None)
@given(spec=runs, length=st.integers(1, 5))
def test_every_full_window_is_found(spec: list[tuple[int, int, int]], length: int) -> None:
    # Prepare
    machines, splits = _rows(spec)
    starts = run_starts(machines, splits)
    # Execute
    ends = window_ends(starts, length)
    # Assert: a row ends a window exactly when its run already has length-1 rows before it
    expected = [i for i in range(machines.size) if i - starts[i] + 1 >= length]
    assert ends.tolist() == expected
    last = last_window_ends(starts, length)
    assert np.unique(starts[ends]).size == last.size


def test_gathered_windows_are_consecutive_rows_in_order() -> None:
    # Prepare
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    ends = np.array([2, 5, 9])
    # Execute
    windows = gather_windows(values, ends, 3)
    # Assert
    assert windows.shape == (3, 3, 2)
    assert windows.dtype == np.float32
    np.testing.assert_array_equal(windows[1], values[3:6])
    np.testing.assert_array_equal(windows[2, -1], values[9])


def test_no_rows_give_no_windows() -> None:
    assert gather_windows(np.zeros((4, 3)), np.array([], dtype=int), 5).shape == (0, 5, 3)


def test_truncated_runs_give_distinct_window_ends_of_each_run() -> None:
    # Prepare: three machines of 10, 3 and 6 rows; windows of 3 rows
    starts = run_starts(np.repeat([0, 1, 2], [10, 3, 6]))
    rng = np.random.default_rng(0)
    # Execute: 4 cuts per run (the second run has only one full window)
    ends = truncated_window_ends(starts, 3, 4, rng)
    # Assert
    per_run = np.bincount(starts[ends] // 1, minlength=14)[[0, 10, 13]]
    assert per_run.tolist() == [4, 1, 4]
    assert np.unique(ends).size == ends.size and np.all(np.diff(ends) > 0)
    assert set(ends) <= set(window_ends(starts, 3))


def test_truncation_is_seeded() -> None:
    starts = run_starts(np.repeat([0, 1], [50, 40]))
    first = truncated_window_ends(starts, 5, 3, np.random.default_rng(7))
    again = truncated_window_ends(starts, 5, 3, np.random.default_rng(7))
    other = truncated_window_ends(starts, 5, 3, np.random.default_rng(8))
    assert first.tolist() == again.tolist() != other.tolist()


def test_last_row_ends_keep_runs_shorter_than_the_window() -> None:
    starts = run_starts(np.array([0, 0, 1, 1, 1, 1, 2]))

    assert last_row_ends(starts).tolist() == [1, 5, 6]
    assert last_window_ends(starts, 3).tolist() == [5]  # only the run with a full window


def test_a_short_runs_window_repeats_its_first_row_backwards() -> None:
    # Prepare: run 0 has rows 0-1, run 1 rows 2-5; rows hold their own index
    values = np.arange(6, dtype=np.float32)[:, None] * np.array([[1.0, 10.0]], np.float32)
    starts = run_starts(np.array([0, 0, 1, 1, 1, 1]))

    # Execute
    windows = gather_windows(values, np.array([1, 5]), 4, starts)

    # Assert: [0, 0, 0, 1] (padded, never row -1 or another run's row), then [2, 3, 4, 5]
    assert windows[:, :, 0].tolist() == [[0, 0, 0, 1], [2, 3, 4, 5]]
    assert windows.dtype == np.float32 and windows.flags.c_contiguous
    np.testing.assert_array_equal(gather_windows(values, np.array([5]), 4, starts),
                                  gather_windows(values, np.array([5]), 4))
