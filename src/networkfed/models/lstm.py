"""The tuned bidirectional LSTM: reads a window of sensor readings forwards and backwards.

The final hidden states of both directions summarise the window; a small head classifies
it. The design document names this its most accurate model (94.15 %, unnamed dataset). Its
configuration example (hidden 128, 2 layers) contradicts its architecture section (hidden 64,
1 layer); the architecture section wins (SPEC §3.6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.core.enums import ModelType
from networkfed.models import _checks
from networkfed.models._layers import as_sequence
from networkfed.models._registry import register_model
from networkfed.models.defaults import COMMON_TRAINING, DEFAULT_SEQUENCE_LENGTH, ModelDefaults

__all__ = ["LSTM_DEFAULTS", "OptimizedLSTMModel"]

LSTM_DEFAULTS = ModelDefaults(
    hyperparameters={
        "hidden_size": 64,
        "num_layers": 1,
        "bidirectional": True,
        "dropout_rate": 0.2,
        "sequence_length": DEFAULT_SEQUENCE_LENGTH,
    },
    training={
        "batch_size": 16,
        "learning_rate": 0.0005,
        **COMMON_TRAINING,
        "sequence_length": DEFAULT_SEQUENCE_LENGTH,
        "gradient_clipping": 1.0,
    },
)
"""The one definition of the LSTM's tuned values; every other view reads it."""

_HP = LSTM_DEFAULTS.hyperparameters


@register_model(ModelType.LSTM, defaults=LSTM_DEFAULTS, builtin=True)
class OptimizedLSTMModel(nn.Module):
    """(Bi)LSTM over time; last hidden states -> Linear -> ReLU -> Dropout -> Linear.

    Parameters
    ----------
    input_dim, num_classes
        Features per time step; output classes (logits are ``(batch, num_classes)``; 1: one
        regression output, the remaining useful life of ``task = "rul"``).
    sequence_length
        The window length the model was tuned for. An LSTM reads any length, so this is kept
        for reference only; a ``(batch, features)`` input is a sequence of one step.
    hidden_size, num_layers, bidirectional
        The recurrent layer; the head's width is ``hidden_size`` times the directions (128).
    dropout_rate
        Dropout in the head, and between recurrent layers when there are several.
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        sequence_length: int = _HP["sequence_length"],
        hidden_size: int = _HP["hidden_size"],
        num_layers: int = _HP["num_layers"],
        bidirectional: bool = _HP["bidirectional"],
        dropout_rate: float = _HP["dropout_rate"],
    ) -> None:
        super().__init__()
        self.input_dim = _checks.positive_int("input_dim", input_dim)
        self.num_classes = _checks.positive_int("num_classes", num_classes, minimum=1)
        self.sequence_length = _checks.positive_int("sequence_length", sequence_length)
        hidden = _checks.positive_int("hidden_size", hidden_size)
        layers = _checks.positive_int("num_layers", num_layers)
        self.bidirectional = _checks.flag("bidirectional", bidirectional)
        rate = _checks.rate("dropout_rate", dropout_rate)
        self.lstm = nn.LSTM(
            self.input_dim,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=self.bidirectional,
            dropout=rate if layers > 1 else 0.0,  # PyTorch warns about dropout on one layer
        )
        width = hidden * (2 if self.bidirectional else 1)
        self.fc1 = nn.Linear(width, width)
        self.dropout = nn.Dropout(rate)
        self.fc2 = nn.Linear(width, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits ``(batch, num_classes)`` for ``(batch, F)`` or ``(batch, T, F)``."""
        _, (h_n, _) = self.lstm(as_sequence(x, self.input_dim, type(self).__name__))
        last = torch.cat((h_n[-2], h_n[-1]), dim=1) if self.bidirectional else h_n[-1]
        return self.fc2(self.dropout(F.relu(self.fc1(last))))
