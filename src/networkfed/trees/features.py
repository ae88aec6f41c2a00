"""What a tree sees of a window: its last step, and each feature's mean and slope.

Trees split on single values, so a window of ``L`` steps is summarised instead of flattened
(as the quality benchmark's random forest does): the last step (the machine's state when the
alarm is due), the per-feature mean (its level over the window) and the least-squares slope
per step (its trend: wear that climbs, temperature that drifts). Rows (``L == 1``) are used
as they are.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

__all__ = ["tree_feature_names", "tree_features"]


def tree_features(x: Tensor | np.ndarray) -> np.ndarray:
    """``float32`` matrix ``(n, F)`` for rows or ``(n, 3F)`` for windows ``(n, L, F)``."""
    array = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    array = array.astype(np.float32, copy=False)
    if array.ndim != 3:
        raise ValueError(f"expected windows of shape (n, L, F), got shape {array.shape}")
    length = array.shape[1]
    if length == 1:
        return np.ascontiguousarray(array[:, 0, :])
    steps = np.arange(length, dtype=np.float64) - (length - 1) / 2.0
    mean = array.mean(axis=1, dtype=np.float64)
    slope = np.einsum("t,ntf->nf", steps, array.astype(np.float64)) / float(steps @ steps)
    return np.concatenate([array[:, -1, :], mean, slope], axis=1).astype(np.float32)


def tree_feature_names(names: list[str], sequence_length: int) -> list[str]:
    """The columns of :func:`tree_features` for these features and window length."""
    if sequence_length == 1:
        return list(names)
    return [*names, *(f"{n}_mean" for n in names), *(f"{n}_slope" for n in names)]
