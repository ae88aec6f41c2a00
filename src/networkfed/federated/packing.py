"""Model states whose tensors of one dtype sit back to back in one buffer ("packed").

A model state is dozens of small tensors. Server-side work on 1,000 sites' updates (moving
them between processes, checking them, aggregating them) costs per tensor, not per value, so
updates are packed where they are made (:func:`pack_state`) and the server reads each dtype's
values as one flat vector (:func:`flat_view`), without copying. A packed state is an ordinary
``dict[str, Tensor]`` to everything else; an unpacked one (e.g. from a Flower message) simply
takes the per-tensor path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

__all__ = ["Layout", "dtype_groups", "flat_values", "flat_view", "layout", "pack_state", "unpack"]


Layout = list[tuple[str, tuple[int, ...], torch.dtype]]
"""Each key of a state with its shape and dtype, in key order."""


def layout(state: Mapping[str, Tensor]) -> Layout:
    """What :func:`unpack` needs besides the values."""
    return [(key, tuple(tensor.shape), tensor.dtype) for key, tensor in state.items()]


def dtype_groups(state: Mapping[str, Tensor]) -> list[list[str]]:
    """The keys of ``state`` grouped by dtype, groups in order of first appearance."""
    groups: dict[torch.dtype, list[str]] = {}
    for key, tensor in state.items():
        groups.setdefault(tensor.dtype, []).append(key)
    return list(groups.values())


def flat_values(state: Mapping[str, Tensor]) -> dict[torch.dtype, Tensor]:
    """Each dtype's values in key order as one flat tensor (a view when already packed)."""
    flat = {}
    for keys in dtype_groups(state):
        view = flat_view(state, keys)
        flat[state[keys[0]].dtype] = view if view is not None else torch.cat(
            [state[key].detach().reshape(-1) for key in keys])
    return flat


def pack_state(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A detached copy of ``state`` in which each dtype's tensors are views of one buffer."""
    flat = {
        state[keys[0]].dtype: torch.cat([state[key].detach().reshape(-1) for key in keys])
        for keys in dtype_groups(state)
    }
    return unpack(layout(state), flat)


def unpack(keys: Layout, flat: Mapping[torch.dtype, Tensor]) -> dict[str, Tensor]:
    """Cut each dtype's flat buffer into the state's tensors, in key order (no copy)."""
    offsets = dict.fromkeys(flat, 0)
    state = {}
    for key, shape, dtype in keys:
        size, start = math.prod(shape), offsets[dtype]
        state[key] = flat[dtype][start:start + size].view(shape)
        offsets[dtype] = start + size
    return state


def flat_view(state: Mapping[str, Tensor], keys: Sequence[str]) -> Tensor | None:
    """The values of ``keys`` as one flat tensor, without copying, when they are packed.

    Packed means: contiguous views of one storage, each starting where the one before ends,
    in the order of ``keys``. Returns ``None`` otherwise (the caller then goes key by key).
    """
    first = state[keys[0]]
    storage, start = first.untyped_storage().data_ptr(), first.storage_offset()
    size = 0
    for key in keys:
        tensor = state[key]
        if (
            tensor.dtype != first.dtype
            or not tensor.is_contiguous()
            or tensor.untyped_storage().data_ptr() != storage
            or tensor.storage_offset() != start + size
        ):
            return None
        size += tensor.numel()
    return first.as_strided((size,), (1,), start)
