"""Autograd references for the fast training paths, with the same random numbers.

The fast paths draw their dropout masks in another memory order than the modules do (rows,
``(batch, length, channels)``), so a comparison with dropout on needs a reference that uses
the very masks the fast path drew, applied in the module's own layers, with autograd
computing every gradient. These references do that; with dropout off they are the modules
themselves.
"""

from __future__ import annotations

import copy
import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.federated.fast_layers import FastDropout, keep_mask
from networkfed.federated.training_step import AutogradStep, TrainingStep
from networkfed.models._layers import as_sequence, pool
from networkfed.models.cnn import OptimizedCNNModel
from networkfed.models.hybrid import OptimizedHybridModel


def cnn_mask_shapes(model: OptimizedCNNModel, batch: int) -> list[tuple[int, ...]]:
    """The shapes of the hand-computed CNN step's dropout masks, in drawing order (rows
    layout for the blocks)."""
    shapes: list[tuple[int, ...]] = []
    length = model.signal_length
    for index in range(1, model.num_blocks + 1):
        length = length // 2 if length >= 2 else length
        shapes.append((batch, length, getattr(model, f"conv{index}").out_channels))
    shapes += [(batch, getattr(model, f"fc{i}").out_features) for i in range(1, model.num_fc)]
    return shapes


def cnn_reference_forward(model: OptimizedCNNModel, x: Tensor) -> Tensor:
    """The CNN's own layers (autograd), with dropout masks drawn as the hand-computed step
    draws them: one :func:`keep_mask` call from the global generator for every mask."""
    window = as_sequence(x, model.input_dim, type(model).__name__)
    batch, dropout = window.shape[0], model.dropout
    shapes = cnn_mask_shapes(model, batch)
    masks: list[Tensor] = []
    if dropout.training and dropout.p > 0.0:
        sizes = [torch.Size(shape).numel() for shape in shapes]
        dtype = model.fc1.weight.dtype
        drawn = (torch.zeros(sum(sizes), dtype=dtype) if dropout.p == 1.0
                 else keep_mask(torch.Size([sum(sizes)]), dropout.p, dtype))
        masks = [m.view(s) for m, s in zip(drawn.split(sizes), shapes, strict=True)]
    hidden = window.reshape(batch, 1, model.signal_length)
    for index in range(1, model.num_blocks + 1):
        conv, norm = getattr(model, f"conv{index}"), getattr(model, f"bn{index}")
        hidden = pool(F.relu(norm(conv(hidden))))
        if masks:
            hidden = hidden * masks.pop(0).transpose(1, 2)
    hidden = hidden.flatten(1)
    for index in range(1, model.num_fc):
        hidden = F.relu(getattr(model, f"fc{index}")(hidden))
        if masks:
            hidden = hidden * masks.pop(0)
    return getattr(model, f"fc{model.num_fc}")(hidden)


class RowsOrderDropout(FastDropout):
    """``FastDropout`` whose masks for ``(batch, channels, length)`` activations are drawn in
    rows order, ``(batch, length, channels)``, and transposed: the masks the hybrid's rows
    forward draws, applied in the module's own layout."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or not self.training or self.p in (0.0, 1.0):
            return super().forward(x)
        rows_shape = torch.Size([x.shape[0], x.shape[2], x.shape[1]])
        return x * keep_mask(rows_shape, self.p, x.dtype).transpose(1, 2)


def reference_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` whose dropout draws the fast path's masks (hybrid)."""
    reference = copy.deepcopy(model)
    if isinstance(reference, OptimizedHybridModel):
        reference.dropout = RowsOrderDropout(reference.dropout.p)
    return reference


def reference_step(model: nn.Module) -> TrainingStep:
    """Plain autograd through ``model``'s own layers; the CNN's draws the hand-computed
    step's masks, the hybrid's whatever its dropout draws (:func:`reference_copy` gives it
    the rows forward's masks)."""
    if isinstance(model, OptimizedCNNModel):
        return AutogradStep(model, functools.partial(cnn_reference_forward, model))
    return AutogradStep(model)


def assert_near(
    got: Tensor, expected: Tensor, what: str, *, rtol: float = 1e-4, atol: float = 0.0
) -> None:
    """``|got - expected| <= rtol * max|expected| + atol`` elementwise.

    Why relative to the tensor's largest value: sums over up to 512 x 1,000 positions round
    differently in the two paths; an element near zero carries the rounding of its large
    neighbours, not a relative error of its own.
    """
    tolerance = rtol * float(expected.abs().max()) + atol + 1e-12 if expected.numel() else 0.0
    torch.testing.assert_close(got, expected, rtol=0.0, atol=tolerance, msg=what)
