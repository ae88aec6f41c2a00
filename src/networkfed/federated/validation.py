"""Check a site update against the global state before it may be aggregated.

A site with a bug, a different model version or diverged training must not poison the global
model: the engine rejects such an update, logs every problem found, and goes on with the other
sites (SPEC §5). Every problem names the offending key, so the log points straight at it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from networkfed.federated.packing import flat_values
from networkfed.federated.types import SiteUpdate


def validate_update(global_state: Mapping[str, Tensor], update: SiteUpdate) -> list[str]:
    """Every reason ``update`` cannot be aggregated into ``global_state``; empty if it can.

    Checks the example count, missing and unexpected keys, and for each shared key the type,
    shape, dtype and (for floating tensors) that every value is finite.
    """
    problems = _check_num_examples(update.num_examples)
    expected, received = set(global_state), set(update.state)
    problems += [f"missing key {key!r}" for key in global_state if key not in received]
    problems += [f"unexpected key {key!r}" for key in update.state if key not in expected]
    count_non_finite = not _all_finite(update.state)  # counted per key only if there are any
    for key, reference in global_state.items():
        if key in received:
            problems += _check_tensor(
                key, reference, update.state[key], count_non_finite=count_non_finite
            )
    return problems


def _all_finite(state: Mapping[str, object]) -> bool:
    """Whether every floating value of ``state`` is finite, one check per dtype.

    A model has dozens of small tensors, and with 1,000 sites' updates a round one check per
    tensor added up; a packed update (``federated.packing``) is checked without a copy.
    """
    tensors = {
        key: t for key, t in state.items()
        if isinstance(t, Tensor) and (t.is_floating_point() or t.is_complex())
    }
    return all(bool(torch.isfinite(values).all()) for values in flat_values(tensors).values())


def _check_num_examples(num_examples: object) -> list[str]:
    if isinstance(num_examples, bool) or not isinstance(num_examples, int):
        return [f"num_examples must be an integer >= 1, got {num_examples!r}"]
    if num_examples < 1:
        return [f"num_examples must be >= 1, got {num_examples}"]
    return []


def _check_tensor(
    key: str, reference: Tensor, value: object, *, count_non_finite: bool = True
) -> list[str]:
    if not isinstance(value, Tensor):
        return [f"key {key!r}: expected a torch.Tensor, got {type(value).__name__}"]
    problems = []
    if value.shape != reference.shape:
        shapes = f"{tuple(value.shape)} differs from expected {tuple(reference.shape)}"
        problems.append(f"key {key!r}: shape {shapes}")
    if value.dtype != reference.dtype:
        problems.append(f"key {key!r}: dtype {value.dtype} differs from expected {reference.dtype}")
    if count_non_finite and (value.is_floating_point() or value.is_complex()):
        bad = int((~torch.isfinite(value)).sum())
        if bad:
            problems.append(f"key {key!r}: {bad} non-finite values (NaN or inf)")
    return problems
