"""Convert state dicts to and from the ``list[np.ndarray]`` shape Flower's arithmetic takes.

Flower's pure helpers (``flwr.server.strategy.aggregate``) work on ``(NDArrays, num_examples)``
pairs; our strategies work on ``dict[str, Tensor]``. This is the only place that converts.

Arithmetic runs in ``float64`` and results are cast back to each tensor's own dtype, so float32
parameters stay float32 and integer buffers (BatchNorm's ``num_batches_tracked``) stay int64:
their aggregate is rounded to the nearest integer (``np.rint``, ties to even). For the usual case
of sites that all ran the same number of local steps the buffers are equal and the aggregate is
exact; otherwise the rounded (weighted) mean is as good a step count as any and keeps the dtype
that BatchNorm expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from networkfed.core.errors import TrainingError
from networkfed.federated.types import SiteUpdate

NDArrays = list[np.ndarray]


def to_ndarrays(state: Mapping[str, Tensor], keys: Sequence[str]) -> NDArrays:
    """``float64`` NumPy copies of ``state[key]`` for each key, in ``keys`` order."""
    return [state[key].detach().to("cpu", torch.float64, copy=True).numpy() for key in keys]


def from_ndarrays(
    arrays: Sequence[np.ndarray], template: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """Tensors with ``template``'s keys, shapes and dtypes; non-float dtypes are rounded first."""
    return {
        key: _cast(array, reference)
        for (key, reference), array in zip(template.items(), arrays, strict=True)
    }


def flower_results(updates: Sequence[SiteUpdate]) -> list[tuple[NDArrays, int]]:
    """The ``[(arrays, num_examples), ...]`` list Flower's aggregate functions expect.

    Keys follow the first update's order; an update missing one of them is a caller bug (the
    engine validates updates first), reported with the site and key.
    """
    keys = list(updates[0].state)
    results = []
    for update in updates:
        missing = [key for key in keys if key not in update.state]
        if missing:
            raise TrainingError(f"site {update.site_id!r}: update lacks key {missing[0]!r}")
        results.append((to_ndarrays(update.state, keys), update.num_examples))
    return results


RUNNING_STATISTICS = ("running_mean", "running_var")
"""Normalisation buffers: averages of the data, not weights, so no server optimiser steps them."""


def is_float(tensor: Tensor) -> bool:
    """Whether ``tensor`` holds real values (integer buffers are averaged and rounded instead)."""
    return tensor.is_floating_point()


def is_server_optimisable(key: str, tensor: Tensor) -> bool:
    """Whether a server optimiser (FedAdam, FedYogi, FedAdagrad, FedAvgM) may step ``key``.

    Only trainable weights: BatchNorm running statistics take the plain FedAvg value. Pushing
    them with momentum or an adaptive step drives ``running_var`` negative and the model to NaN
    (seen with FedAvgM on C-MAPSS), since they are estimates of the data, not parameters.
    """
    return tensor.is_floating_point() and not key.endswith(RUNNING_STATISTICS)


def _cast(array: np.ndarray, reference: Tensor) -> Tensor:
    values = np.asarray(array, dtype=np.float64).reshape(tuple(reference.shape))
    if not reference.is_floating_point():
        values = np.rint(values)
    return torch.tensor(values, dtype=reference.dtype)
