"""Train / validation / test assignment that no window can cross.

Three ways, each a pure seeded function returning one split code per row
(:data:`TRAIN`, :data:`VAL`, :data:`TEST`); windows are later built inside one
(site, split, machine) run only, so no window mixes splits:

- ``stratified``: rows of a tabular stream (AI4I) are dealt to the splits within each class,
  so every split keeps the site's failure rate;
- ``time``: each machine's history is cut chronologically (first part train, then
  validation, then test), as a deployed model only ever sees the future;
- ``machine``: whole machines (engines, units) go to one split, so the test machines are
  unseen.

:func:`label_constant_within_groups` and :func:`groups_across_splits` are the facts the
``auto`` choice and the leak warning rest on (:mod:`networkfed.data.pipeline`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "TEST",
    "TRAIN",
    "VAL",
    "groups_across_splits",
    "label_constant_within_groups",
    "machine_split",
    "split_counts",
    "stratified_split",
    "time_split",
]

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test")


def split_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """How many of ``n`` items go to train, validation and test.

    Validation and test get at least one item each once there are three.
    """
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    if n >= 3:
        n_test, n_val = max(n_test, 1), max(n_val, 1)
    n_val = min(n_val, max(n - n_test - 1, 0))
    return n - n_val - n_test, n_val, n_test


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> np.ndarray:
    """Per class, shuffle and cut by the fractions: every split keeps the class balance."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    codes = np.full(labels.size, TRAIN, dtype=np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        _, n_val, n_test = split_counts(members.size, val_fraction, test_fraction)
        codes[members[:n_test]] = TEST
        codes[members[n_test : n_test + n_val]] = VAL
    return codes


def time_split(machines: np.ndarray, val_fraction: float, test_fraction: float) -> np.ndarray:
    """Chronological cut per machine; rows must be in time order within each machine."""
    machines = np.asarray(machines)
    _, codes_of_rows, lengths = np.unique(machines, return_inverse=True, return_counts=True)
    rank = _rank_within_group(codes_of_rows)
    length = lengths[codes_of_rows]
    n_train = np.rint(length * (1.0 - val_fraction - test_fraction))
    n_val = np.rint(length * val_fraction)
    split = np.full(machines.size, TEST, dtype=np.int64)
    split[rank < n_train + n_val] = VAL
    split[rank < n_train] = TRAIN
    return split


def _rank_within_group(codes: np.ndarray) -> np.ndarray:
    """Position of each row among the rows of its group, in the given row order."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, sorted_codes.size]))
    rank = np.empty(codes.size, dtype=np.int64)
    rank[order] = np.arange(codes.size) - first
    return rank


def machine_split(
    machines: np.ndarray,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    *,
    with_test: bool = True,
) -> np.ndarray:
    """Whole machines to one split each; ``with_test=False`` when the source has its own test."""
    machines = np.asarray(machines)
    names, inverse = np.unique(machines, return_inverse=True)
    order = np.random.default_rng(seed).permutation(names.size)
    if with_test:
        _, n_val, n_test = split_counts(names.size, val_fraction, test_fraction)
    else:
        _, n_val, n_test = split_counts(names.size, val_fraction, 0.0)
        n_test = 0
    per_machine = np.full(names.size, TRAIN, dtype=np.int64)
    per_machine[order[:n_test]] = TEST
    per_machine[order[n_test : n_test + n_val]] = VAL
    return per_machine[inverse]


def label_constant_within_groups(groups: np.ndarray, labels: np.ndarray) -> bool:
    """Whether every group's rows share one label: the label then describes the whole group
    (a test cycle that failed), not a moment of a long-running machine's life."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    labels = np.asarray(labels)
    high = np.full(codes.max(initial=-1) + 1, labels.min(initial=0))
    low = np.full(high.size, labels.max(initial=0))
    np.maximum.at(high, codes, labels)
    np.minimum.at(low, codes, labels)
    return bool(np.all(high == low))


def groups_across_splits(groups: np.ndarray, split: np.ndarray) -> int:
    """How many groups have rows in more than one split (a time split cuts every group)."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    pairs = np.unique(np.stack([codes, np.asarray(split)]), axis=1)
    return int((np.bincount(pairs[0]) > 1).sum())
