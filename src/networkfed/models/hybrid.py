"""The tuned CNN-LSTM hybrid: convolutions across features, then an LSTM across time.

Each time step's features are channels; two convolution blocks extract local patterns along
the time axis and shorten it, a one-layer LSTM reads what remains. The design document
claims 92.20 % (unnamed dataset); docs/benchmarks/quality.md has this project's measured
figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.core.enums import ModelType
from networkfed.models import _checks
from networkfed.models._layers import as_sequence, pool
from networkfed.models._registry import register_model
from networkfed.models.defaults import COMMON_TRAINING, DEFAULT_SEQUENCE_LENGTH, ModelDefaults

__all__ = ["HYBRID_DEFAULTS", "OptimizedHybridModel"]

HYBRID_DEFAULTS = ModelDefaults(
    hyperparameters={"cnn_filters": [32, 64], "lstm_hidden": 128, "dropout_rate": 0.4},
    training={
        "batch_size": 16,
        "learning_rate": 0.001,
        **COMMON_TRAINING,
        "gradient_clipping": 1.0,
    },
)
"""The one definition of the hybrid's tuned values; every other view reads it."""

_HP = HYBRID_DEFAULTS.hyperparameters


@register_model(ModelType.HYBRID, defaults=HYBRID_DEFAULTS, builtin=True)
class OptimizedHybridModel(nn.Module):
    """Conv blocks (features as channels) -> LSTM over time -> Linear -> ReLU -> Linear.

    Parameters
    ----------
    input_dim, num_classes
        Features per time step; output classes (logits are ``(batch, num_classes)``; 1: one
        regression output, the remaining useful life of ``task = "rul"``).
    sequence_length
        The window length the model was tuned for; kept for reference, since pooling adapts
        to the length it gets (a ``(batch, features)`` input is one time step).
    cnn_filters, lstm_hidden
        Channels of ``conv1/bn1 ...``; hidden size of the LSTM. The head's hidden layer is
        half the LSTM's width (64).
    dropout_rate
        Dropout after every convolution block and in the head.
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
        cnn_filters: Sequence[int] = _HP["cnn_filters"],
        lstm_hidden: int = _HP["lstm_hidden"],
        dropout_rate: float = _HP["dropout_rate"],
    ) -> None:
        super().__init__()
        self.input_dim = _checks.positive_int("input_dim", input_dim)
        self.num_classes = _checks.positive_int("num_classes", num_classes, minimum=1)
        self.sequence_length = _checks.positive_int("sequence_length", sequence_length)
        filters = _checks.int_list("cnn_filters", cnn_filters)
        hidden = _checks.positive_int("lstm_hidden", lstm_hidden)
        self.num_blocks = len(filters)
        for index, (c_in, c_out) in enumerate(pairwise([self.input_dim, *filters]), start=1):
            self.add_module(f"conv{index}", nn.Conv1d(c_in, c_out, kernel_size=3, padding=1))
            self.add_module(f"bn{index}", nn.BatchNorm1d(c_out))
        self.dropout = nn.Dropout(_checks.rate("dropout_rate", dropout_rate))
        self.lstm = nn.LSTM(filters[-1], hidden, num_layers=1, batch_first=True)
        head = max(1, hidden // 2)
        self.fc1 = nn.Linear(hidden, head)
        self.fc2 = nn.Linear(head, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits ``(batch, num_classes)`` for ``(batch, F)`` or ``(batch, T, F)``."""
        signal = as_sequence(x, self.input_dim, type(self).__name__).transpose(1, 2)
        for index in range(1, self.num_blocks + 1):
            signal = F.relu(getattr(self, f"bn{index}")(getattr(self, f"conv{index}")(signal)))
            signal = self.dropout(pool(signal))
        _, (h_n, _) = self.lstm(signal.transpose(1, 2))
        return self.fc2(self.dropout(F.relu(self.fc1(h_n[-1]))))
