"""One mini-batch's loss and gradients, as local training computes them.

Local training needs, per mini-batch, the class-weighted cross-entropy and every parameter's
gradient; how they are computed is a matter of speed. Autograd serves every model. The
built-in CNN on short signals gets a step computed by hand (:mod:`.fast_cnn`), about twice as
fast there, because its time goes to per-operation costs that autograd multiplies; the
built-in hybrid runs its convolution blocks on rows (:mod:`.fast_hybrid`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol

import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.federated.fast_cnn import CNNTrainingStep, cnn_inference, fast_cnn_supported
from networkfed.federated.fast_hybrid import fast_hybrid_supported, hybrid_forward

__all__ = ["AutogradStep", "TrainingStep", "inference_forward", "training_step"]


class TrainingStep(Protocol):
    """Computes a mini-batch's loss and leaves each trained parameter's gradient in
    ``.grad`` (call it after the optimiser's ``zero_grad``)."""

    def __call__(self, x: Tensor, y: Tensor, class_weights: Tensor | None = None) -> Tensor:
        """Return the mean (class-weighted) cross-entropy of ``(x, y)``, detached."""
        ...


class AutogradStep:
    """Forward, cross-entropy, ``backward()``: any model. ``forward`` computes the model's
    logits another way (default: the model itself)."""

    def __init__(self, model: nn.Module, forward: Callable[[Tensor], Tensor] | None = None) -> None:
        self.forward = forward or model

    def __call__(self, x: Tensor, y: Tensor, class_weights: Tensor | None = None) -> Tensor:
        loss = F.cross_entropy(self.forward(x), y, weight=class_weights)
        loss.backward()
        return loss.detach()


def training_step(model: nn.Module) -> TrainingStep:
    """The fastest exact step for ``model``: computed by hand for the built-in CNN (where
    :func:`.fast_cnn_supported`), autograd through the rows forward for the built-in hybrid
    (where :func:`.fast_hybrid_supported`), autograd through the model otherwise."""
    if fast_cnn_supported(model):
        return CNNTrainingStep(model)  # type: ignore[arg-type]
    if fast_hybrid_supported(model):
        return AutogradStep(model, functools.partial(hybrid_forward, model))
    return AutogradStep(model)


def inference_forward(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """The fastest exact eval-mode forward for ``model`` (the built-in CNN and hybrid on
    rows, see :mod:`.channels_last`; the model itself otherwise)."""
    if fast_cnn_supported(model):
        return functools.partial(cnn_inference, model)
    if fast_hybrid_supported(model):
        return functools.partial(hybrid_forward, model)
    return model
