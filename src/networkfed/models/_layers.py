"""Input handling and pooling shared by the three architectures.

Every model takes ``(batch, features)`` (one time step) or ``(batch, time, features)``;
pooling halves a length only while it is at least 2, so no input is ever pooled to nothing —
tabular data (one step of a handful of features) goes through the same layers as windows.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from networkfed.core.errors import DataValidationError


def as_sequence(x: Tensor, input_dim: int, model_name: str) -> Tensor:
    """Return ``x`` as ``(batch, time, features)``; a 2-D input is a sequence of one step."""
    if x.dim() == 2:
        x = x.unsqueeze(1)
    if x.dim() != 3 or x.shape[-1] != input_dim:
        raise DataValidationError(
            f"{model_name} expects input of shape (batch, {input_dim}) or "
            f"(batch, time, {input_dim}), got {tuple(x.shape)}"
        )
    return x


def pool(x: Tensor) -> Tensor:
    """Max-pool ``(batch, channels, length)`` by 2, leaving a length of 1 as it is."""
    return F.max_pool1d(x, kernel_size=2) if x.shape[-1] >= 2 else x
