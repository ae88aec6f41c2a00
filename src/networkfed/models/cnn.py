"""The tuned 1-D CNN: a window's values read as one long signal of one channel.

Three convolution blocks pick up local patterns between neighbouring values; the fully
connected head combines them. Tuned in the design document's "Step 1A" (93.95 % accuracy
claimed there on an unnamed dataset; docs/benchmarks/quality.md has this project's measured
figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.core.enums import ModelType
from networkfed.core.errors import DataValidationError
from networkfed.models import _checks
from networkfed.models._layers import as_sequence, pool
from networkfed.models._registry import register_model
from networkfed.models.defaults import COMMON_TRAINING, ModelDefaults

__all__ = ["CNN_DEFAULTS", "OptimizedCNNModel"]

CNN_DEFAULTS = ModelDefaults(
    hyperparameters={"conv_filters": [32, 64, 128], "fc_hidden": [256, 128], "dropout_rate": 0.3},
    training={"batch_size": 32, "learning_rate": 0.0005, **COMMON_TRAINING, "epochs": 50},
)
"""The one definition of the CNN's tuned values; every other view reads it."""

_HP = CNN_DEFAULTS.hyperparameters


@register_model(ModelType.CNN, defaults=CNN_DEFAULTS, builtin=True)
class OptimizedCNNModel(nn.Module):
    """Conv1d -> BatchNorm -> ReLU -> MaxPool -> Dropout blocks, then a three-layer head.

    Parameters
    ----------
    input_dim, num_classes
        Features per time step; output classes (logits are ``(batch, num_classes)``; 1: one
        regression output, the remaining useful life of ``task = "rul"``).
    sequence_length
        Time steps per window; ``None`` means single rows ``(batch, features)``. The CNN
        flattens a window into one signal, so its length is fixed when the model is built.
    conv_filters, fc_hidden, dropout_rate
        Channels of the blocks ``conv1/bn1 ...``, widths of ``fc1 ...`` before the output
        layer, and the dropout used after every block and hidden layer.
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        sequence_length: int | None = None,
        conv_filters: Sequence[int] = _HP["conv_filters"],
        fc_hidden: Sequence[int] = _HP["fc_hidden"],
        dropout_rate: float = _HP["dropout_rate"],
    ) -> None:
        super().__init__()
        self.input_dim = _checks.positive_int("input_dim", input_dim)
        self.num_classes = _checks.positive_int("num_classes", num_classes, minimum=1)
        self.sequence_length = _checks.optional_positive_int("sequence_length", sequence_length)
        filters = _checks.int_list("conv_filters", conv_filters)
        hidden = _checks.int_list("fc_hidden", fc_hidden)
        self.signal_length = self.input_dim * (self.sequence_length or 1)
        self.num_blocks, self.num_fc = len(filters), len(hidden) + 1
        for index, (c_in, c_out) in enumerate(pairwise([1, *filters]), start=1):
            self.add_module(f"conv{index}", nn.Conv1d(c_in, c_out, kernel_size=3, padding=1))
            self.add_module(f"bn{index}", nn.BatchNorm1d(c_out))
        self.dropout = nn.Dropout(_checks.rate("dropout_rate", dropout_rate))
        widths = [self._flattened_size(), *hidden, self.num_classes]
        for index, (n_in, n_out) in enumerate(pairwise(widths), start=1):
            self.add_module(f"fc{index}", nn.Linear(n_in, n_out))

    def _flattened_size(self) -> int:
        """Run a dummy signal through the blocks once (eval mode: no statistics change)."""
        self.eval()
        with torch.no_grad():
            size = self._features(torch.zeros(1, 1, self.signal_length)).shape[1]
        self.train()
        return int(size)

    def _features(self, signal: Tensor) -> Tensor:
        for index in range(1, self.num_blocks + 1):
            signal = F.relu(getattr(self, f"bn{index}")(getattr(self, f"conv{index}")(signal)))
            signal = self.dropout(pool(signal))
        return signal.flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits ``(batch, num_classes)`` for ``(batch, F)`` or ``(batch, T, F)``."""
        window = as_sequence(x, self.input_dim, type(self).__name__)
        if window.shape[1] * window.shape[2] != self.signal_length:
            raise DataValidationError(
                f"{type(self).__name__} was built for windows of {self.sequence_length or 1} "
                f"step(s) x {self.input_dim} features, got input of shape {tuple(x.shape)}"
            )
        hidden = self._features(window.reshape(window.shape[0], 1, self.signal_length))
        for index in range(1, self.num_fc):
            hidden = self.dropout(F.relu(getattr(self, f"fc{index}")(hidden)))
        return getattr(self, f"fc{self.num_fc}")(hidden)
