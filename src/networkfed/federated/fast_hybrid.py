"""The built-in CNN-LSTM hybrid's forward with its convolution blocks on rows.

Why: the hybrid reads a window ``(batch, steps, features)`` as ``(batch, channels, length)``
for its convolutions and back for its LSTM. At ten steps its convolution blocks cost more in
fixed overhead than in arithmetic (oneDNN's convolution and its backward, channel-first
BatchNorm, ``max_pool1d``: ~0.7 of a 1.9 ms training step); on ``(batch, length, channels)``
rows (:mod:`.channels_last`) the same blocks take a fraction of that, and their output is
already the ``(batch, steps, channels)`` sequence the LSTM reads. The LSTM and the head stay
the modules'. Parameters, buffers and outputs are the module's (to float rounding, tested);
dropout masks are drawn in the rows' memory order, so a seeded run's numbers differ from the
module's forward but are as reproducible.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.federated.channels_last import conv_block, plain_conv_block
from networkfed.federated.fast_layers import FastDropout
from networkfed.models._layers import as_sequence
from networkfed.models.hybrid import OptimizedHybridModel

__all__ = ["FAST_MAX_STEPS", "fast_hybrid_supported", "hybrid_forward"]

FAST_MAX_STEPS = 100
"""The longest window (steps) the rows forward is used for, judged on each input's actual
length (the hybrid takes any length, whatever its ``sequence_length`` says). Measured per
training step with clipping and Adam, one thread, batch 32, ten features (module / rows, ms):
10 steps 1.86 / 1.50, 30 steps 2.90 / 2.37, 64 steps 4.57 / 4.16, 100 steps 7.05 / 6.66 — the
longer the window, the less the fixed costs it saves matter."""


def fast_hybrid_supported(model: nn.Module) -> bool:
    """True for the built-in hybrid with the layers it is built with. Whether an input is
    short enough (:data:`FAST_MAX_STEPS`), and the model float32 on the CPU, is decided
    by :mod:`.training_step`."""
    if type(model) is not OptimizedHybridModel:
        return False
    if type(model.dropout) not in (nn.Dropout, FastDropout) or type(model.lstm) is not nn.LSTM:
        return False
    return all(
        plain_conv_block(getattr(model, f"conv{index}"), getattr(model, f"bn{index}"))
        for index in range(1, model.num_blocks + 1)
    )


def hybrid_forward(model: OptimizedHybridModel, x: Tensor) -> Tensor:
    """``model(x)``, its convolution blocks computed on rows (module docstring); training or
    eval as the model is. Any window length; :mod:`.training_step` uses it up to
    :data:`FAST_MAX_STEPS`."""
    sequence = as_sequence(x, model.input_dim, type(model).__name__)
    for index in range(1, model.num_blocks + 1):
        conv, norm = getattr(model, f"conv{index}"), getattr(model, f"bn{index}")
        sequence = model.dropout(conv_block(sequence, conv, norm))
    _, (h_n, _) = model.lstm(sequence)
    return model.fc2(model.dropout(F.relu(model.fc1(h_n[-1]))))
