"""Splits: stratified keeps the failure rate, time is chronological, machines stay whole."""

from __future__ import annotations

import numpy as np

from networkfed.data.splits import TEST, TRAIN, VAL, machine_split, stratified_split, time_split


def test_stratified_split_keeps_failure_rate_in_each_split() -> None:
    labels = np.r_[np.zeros(970, int), np.ones(30, int)]
    codes = stratified_split(labels, 0.15, 0.2, seed=1)
    for code in (TRAIN, VAL, TEST):
        assert abs(labels[codes == code].mean() - 0.03) < 0.01
    assert abs((codes == TEST).mean() - 0.2) < 0.01


def test_time_split_is_chronological_within_each_machine() -> None:
    machines = np.repeat(["a", "b"], [40, 60]).astype(object)
    codes = time_split(machines, 0.15, 0.2)
    for machine in ("a", "b"):
        part = codes[machines == machine]
        assert (np.diff(part) >= 0).all()  # train, then val, then test
        assert set(part.tolist()) == {TRAIN, VAL, TEST}


def test_machine_split_keeps_each_machine_in_one_split() -> None:
    machines = np.repeat(np.arange(20), 7)
    codes = machine_split(machines, 0.15, 0.2, seed=4)
    for machine in range(20):
        assert np.unique(codes[machines == machine]).size == 1
    assert np.unique(codes).tolist() == [TRAIN, VAL, TEST]


def test_machine_split_without_test_uses_only_train_and_val() -> None:
    codes = machine_split(np.repeat(np.arange(10), 3), 0.2, 0.2, seed=0, with_test=False)
    assert set(codes.tolist()) == {TRAIN, VAL}
