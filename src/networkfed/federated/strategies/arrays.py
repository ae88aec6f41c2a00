"""Convert state dicts to and from the ``list[np.ndarray]`` shape Flower's arithmetic takes.

Flower's pure helpers (``flwr.server.strategy.aggregate``) work on ``(NDArrays, num_examples)``
pairs; our strategies work on ``dict[str, Tensor]``. This is the only place that converts.

The helpers used here (``aggregate``, ``aggregate_median``, ``aggregate_trimmed_avg``) work
coordinate by coordinate across sites, so :func:`aggregate_per_tensor` hands them one slice of
one tensor of every site at a time: the numbers are those of a whole-model call, but the
float64 copies Flower's arithmetic makes (about three of every update) exist for one slice at
a time, at most :data:`SLICE_BYTES` each. With 1,000 sites that keeps the server's peak memory
near the size of the updates themselves (whole-model calls added 1.5 GB to it).

Arithmetic runs in ``float64`` and results are cast back to each tensor's own dtype, so float32
parameters stay float32 and integer buffers (BatchNorm's ``num_batches_tracked``) stay int64:
their aggregate is rounded to the nearest integer (``np.rint``, ties to even). For the usual case
of sites that all ran the same number of local steps the buffers are equal and the aggregate is
exact; otherwise the rounded (weighted) mean is as good a step count as any and keeps the dtype
that BatchNorm expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from networkfed.core.errors import TrainingError
from networkfed.federated.packing import dtype_groups, flat_view
from networkfed.federated.types import SiteUpdate

NDArrays = list[np.ndarray]


def to_ndarrays(state: Mapping[str, Tensor], keys: Sequence[str]) -> NDArrays:
    """``float64`` NumPy copies of ``state[key]`` for each key, in ``keys`` order."""
    return [state[key].detach().to("cpu", torch.float64, copy=True).numpy() for key in keys]


SLICE_BYTES = 32 * 2**20
"""Largest float64 copy of one slice (all sites together) that aggregation makes at once."""


def aggregate_per_tensor(
    function: Callable[[list[tuple[NDArrays, int]]], NDArrays], updates: Sequence[SiteUpdate]
) -> dict[str, Tensor]:
    """Apply a coordinate-wise Flower aggregate ``function`` slice by slice of each tensor.

    Keys, shapes and dtypes follow the first update (non-float dtypes are rounded back); an
    update missing one of its keys is a caller bug (the engine validates updates first),
    reported with the site and key. Packed updates (``federated.packing``) are sliced across
    all tensors of a dtype at once: the same numbers, from about half the calls.
    """
    template = updates[0].state
    for update in updates:
        missing = [key for key in template if key not in update.state]
        if missing:
            raise TrainingError(f"site {update.site_id!r}: update lacks key {missing[0]!r}")
    step = max(1, SLICE_BYTES // (8 * len(updates)))
    aggregated: dict[str, Tensor] = {}
    for keys, flats in _flat_groups(template, updates):
        parts = []
        for start in range(0, max(flats[0].numel(), 1), step):
            results = [
                ([values[start:start + step].to("cpu", torch.float64, copy=True).numpy()],
                 update.num_examples)
                for values, update in zip(flats, updates, strict=True)
            ]
            parts.append(function(results)[0])
        values, offset = np.concatenate(parts), 0
        for key in keys:
            size = template[key].numel()
            aggregated[key] = cast_like(values[offset:offset + size], template[key])
            offset += size
    return {key: aggregated[key] for key in template}


def _flat_groups(
    template: Mapping[str, Tensor], updates: Sequence[SiteUpdate]
) -> list[tuple[list[str], list[Tensor]]]:
    """``(keys, one flat tensor per update)``: a dtype's keys together where every update is
    packed like the template, else one key at a time."""
    groups = []
    for keys in dtype_groups(template):
        size = sum(template[key].numel() for key in keys)
        flats = [flat_view(update.state, keys) for update in updates]
        if all(flat is not None and flat.numel() == size for flat in flats):
            groups.append((keys, flats))
        else:
            groups += [
                ([key], [u.state[key].detach().reshape(-1) for u in updates]) for key in keys
            ]
    return groups


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


def cast_like(array: np.ndarray, reference: Tensor) -> Tensor:
    """``array`` as a tensor of ``reference``'s shape and dtype (integers rounded to nearest)."""
    values = np.asarray(array, dtype=np.float64).reshape(tuple(reference.shape))
    if not reference.is_floating_point():
        values = np.rint(values)
    return torch.tensor(values, dtype=reference.dtype)
