"""validate_update: every problem an update can have is found and names its key."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from networkfed.federated.packing import pack_state
from networkfed.federated.types import SiteUpdate
from networkfed.federated.validation import validate_update

GLOBAL = {
    "fc.weight": torch.zeros(2, 3),
    "fc.bias": torch.zeros(2),
    "bn.num_batches_tracked": torch.tensor(0),
}


def good_state() -> dict[str, object]:
    return {key: value.clone() + 1 for key, value in GLOBAL.items()}


def problems_with(num_examples: int = 5, **changes: object) -> list[str]:
    state = good_state()
    for key, value in changes.items():
        name = key.replace("__", ".")
        if value is None:
            del state[name]
        else:
            state[name] = value
    return validate_update(GLOBAL, SiteUpdate("site-1", state, num_examples))  # type: ignore[arg-type]


def test_a_valid_update_has_no_problems() -> None:
    assert problems_with() == []


def test_missing_key() -> None:
    assert problems_with(fc__bias=None) == ["missing key 'fc.bias'"]


def test_unexpected_key() -> None:
    assert problems_with(extra=torch.zeros(1)) == ["unexpected key 'extra'"]


def test_wrong_shape() -> None:
    assert problems_with(fc__weight=torch.zeros(3, 2)) == [
        "key 'fc.weight': shape (3, 2) differs from expected (2, 3)"
    ]


def test_wrong_dtype() -> None:
    assert problems_with(bn__num_batches_tracked=torch.tensor(1.0)) == [
        "key 'bn.num_batches_tracked': dtype torch.float32 differs from expected torch.int64"
    ]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values(bad: float) -> None:
    assert problems_with(fc__bias=torch.tensor([0.0, bad])) == [
        "key 'fc.bias': 1 non-finite values (NaN or inf)"
    ]


def test_not_a_tensor() -> None:
    assert problems_with(fc__bias=np.zeros(2)) == [
        "key 'fc.bias': expected a torch.Tensor, got ndarray"
    ]


@pytest.mark.parametrize("count", [0, -3])
def test_too_few_examples(count: int) -> None:
    assert problems_with(num_examples=count) == [f"num_examples must be >= 1, got {count}"]


def test_non_integer_example_count() -> None:
    assert problems_with(num_examples=2.5) == ["num_examples must be an integer >= 1, got 2.5"]  # type: ignore[arg-type]


def test_every_problem_is_reported_at_once() -> None:
    # Execute
    problems = problems_with(
        num_examples=0,
        fc__bias=None,
        fc__weight=torch.full((2, 2), math.nan, dtype=torch.float64),
        extra=torch.zeros(1),
    )
    # Assert
    assert problems == [
        "num_examples must be >= 1, got 0",
        "missing key 'fc.bias'",
        "unexpected key 'extra'",
        "key 'fc.weight': shape (2, 2) differs from expected (2, 3)",
        "key 'fc.weight': dtype torch.float64 differs from expected torch.float32",
        "key 'fc.weight': 4 non-finite values (NaN or inf)",
    ]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_values_in_a_packed_update(bad: float) -> None:
    state = good_state()
    state["fc.weight"][1, 2] = bad
    update = SiteUpdate("site-1", pack_state(state), 5)  # type: ignore[arg-type]
    assert validate_update(GLOBAL, update) == ["key 'fc.weight': 1 non-finite values (NaN or inf)"]
    assert validate_update(GLOBAL, SiteUpdate("site-1", pack_state(good_state()), 5)) == []  # type: ignore[arg-type]
