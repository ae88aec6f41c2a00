"""One mini-batch's loss and gradients, as local training computes them.

Local training needs, per mini-batch, the class-weighted cross-entropy and every parameter's
gradient; how they are computed is a matter of speed. Autograd serves every model. The
built-in CNN on short signals gets a step computed by hand (:mod:`.fast_cnn`), a third faster
there, because its time goes to per-operation costs that autograd multiplies.
"""

from __future__ import annotations

from typing import Protocol

import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.federated.fast_cnn import CNNTrainingStep, fast_cnn_supported

__all__ = ["AutogradStep", "TrainingStep", "training_step"]


class TrainingStep(Protocol):
    """Computes a mini-batch's loss and leaves each trained parameter's gradient in
    ``.grad`` (call it after the optimiser's ``zero_grad``)."""

    def __call__(self, x: Tensor, y: Tensor, class_weights: Tensor | None = None) -> Tensor:
        """Return the mean (class-weighted) cross-entropy of ``(x, y)``, detached."""
        ...


class AutogradStep:
    """Forward through the model, cross-entropy, ``backward()``: any model."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __call__(self, x: Tensor, y: Tensor, class_weights: Tensor | None = None) -> Tensor:
        loss = F.cross_entropy(self.model(x), y, weight=class_weights)
        loss.backward()
        return loss.detach()


def training_step(model: nn.Module) -> TrainingStep:
    """The fastest exact step for ``model``: computed by hand for the built-in CNN where
    :func:`~networkfed.federated.fast_cnn.fast_cnn_supported`, autograd otherwise."""
    if fast_cnn_supported(model):
        return CNNTrainingStep(model)  # type: ignore[arg-type]
    return AutogradStep(model)
