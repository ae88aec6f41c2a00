"""One mini-batch's loss and gradients, as local training computes them.

Local training needs, per mini-batch, the class-weighted cross-entropy and every parameter's
gradient; how they are computed is a matter of speed. Autograd serves every model. The
built-in CNN on short signals gets a step computed by hand (:mod:`.fast_cnn`), about twice as
fast there, because its time goes to per-operation costs that autograd multiplies; the
built-in hybrid runs its convolution blocks on rows (:mod:`.fast_hybrid`).

A fast path is used only inside the domain its tests cover (``tests/federated/
test_fast_path_properties.py``: signals of 1 to 1,000 values, windows of 1 to 100 steps,
batches of 1 to :data:`FAST_MAX_BATCH` rows, float32 on the CPU, integer class labels), judged
on each actual input; anything else goes through autograd, with one log line per kind of
input, since the result is the same, only slower.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.federated.fast_cnn import CNNTrainingStep, cnn_inference, fast_cnn_supported
from networkfed.federated.fast_hybrid import FAST_MAX_STEPS, fast_hybrid_supported, hybrid_forward

__all__ = [
    "FAST_MAX_BATCH",
    "AutogradStep",
    "FastPathStep",
    "TrainingStep",
    "inference_forward",
    "outside_fast_domain",
    "training_step",
]

logger = logging.getLogger(__name__)

FAST_MAX_BATCH = 512
"""The largest training mini-batch a fast path is used for (the largest tested; the package's
batch sizes are 16 to 64). Evaluation's forward has no such limit: eval mode has no batch
statistics, so each row's output is computed alone (tested on 3,000 rows)."""

_logged_fallbacks: set[tuple[str, str]] = set()


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


def outside_fast_domain(
    x: Tensor, y: Tensor | None = None, class_weights: Tensor | None = None, *,
    max_steps: int | None = None, max_batch: int | None = FAST_MAX_BATCH,
) -> tuple[str, str] | None:
    """Why a fast path's tests do not cover this input: ``(kind, detail)``, or ``None``.

    Shapes the model itself rejects are not reported: the fast paths raise the model's own
    error for them.
    """
    if x.dtype != torch.float32 or x.device.type != "cpu":
        return "input", f"{x.dtype} input on {x.device.type} (tested: float32 on the CPU)"
    if max_batch is not None and x.dim() > 0 and x.shape[0] > max_batch:
        return "batch", f"a batch of {x.shape[0]} rows (tested: up to {max_batch})"
    if max_steps is not None and x.dim() == 3 and x.shape[1] > max_steps:
        return "steps", f"windows of {x.shape[1]} steps (tested: up to {max_steps})"
    if y is not None and (y.dtype != torch.int64 or y.dim() != 1):
        return "labels", f"{y.dtype} labels of shape {tuple(y.shape)} (tested: int64 classes)"
    if class_weights is not None and class_weights.dtype != torch.float32:
        return "weights", f"{class_weights.dtype} class weights (tested: float32)"
    return None


def _float32_cpu(model: nn.Module) -> bool:
    """The fast paths are tested on float32 models on the CPU (the package's only kind)."""
    return all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())


def _log_fallback(model: nn.Module, gap: tuple[str, str]) -> None:
    key = (type(model).__name__, gap[0])
    if key not in _logged_fallbacks:
        _logged_fallbacks.add(key)
        logger.info("%s: %s, outside the fast path's tested domain; using autograd through "
                    "the module (same numbers, slower)", key[0], gap[1])


class FastPathStep:
    """A fast step for inputs inside its tested domain, autograd through the module outside
    it (:func:`outside_fast_domain`, decided on each actual input)."""

    def __init__(
        self, model: nn.Module, fast: TrainingStep, max_steps: int | None = None
    ) -> None:
        self.model, self.fast, self.max_steps = model, fast, max_steps
        self.autograd = AutogradStep(model)

    def __call__(self, x: Tensor, y: Tensor, class_weights: Tensor | None = None) -> Tensor:
        gap = outside_fast_domain(x, y, class_weights, max_steps=self.max_steps)
        if gap is None:
            return self.fast(x, y, class_weights)
        _log_fallback(self.model, gap)
        return self.autograd(x, y, class_weights)


class _FastPathForward:
    """The eval-mode (or training-mode) counterpart: a fast forward inside its domain."""

    def __init__(
        self, model: nn.Module, fast: Callable[[nn.Module, Tensor], Tensor],
        max_steps: int | None, max_batch: int | None,
    ) -> None:
        self.model, self.fast = model, fast
        self.max_steps, self.max_batch = max_steps, max_batch

    def __call__(self, x: Tensor) -> Tensor:
        gap = outside_fast_domain(x, max_steps=self.max_steps, max_batch=self.max_batch)
        if gap is None:
            return self.fast(self.model, x)
        _log_fallback(self.model, gap)
        return self.model(x)


def training_step(model: nn.Module) -> TrainingStep:
    """The fastest exact step for ``model``: computed by hand for the built-in CNN (where
    :func:`.fast_cnn_supported`), autograd through the rows forward for the built-in hybrid
    (where :func:`.fast_hybrid_supported`), autograd through the model otherwise — and for
    any input outside the fast paths' tested domain."""
    if not _float32_cpu(model):
        return AutogradStep(model)
    if fast_cnn_supported(model):
        return FastPathStep(model, CNNTrainingStep(model))  # type: ignore[arg-type]
    if fast_hybrid_supported(model):
        rows = functools.partial(hybrid_forward, model)
        return FastPathStep(model, AutogradStep(model, rows), FAST_MAX_STEPS)
    return AutogradStep(model)


def inference_forward(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """The fastest exact eval-mode forward for ``model`` (the built-in CNN and hybrid on
    rows, see :mod:`.channels_last`; the model itself otherwise)."""
    if not _float32_cpu(model):
        return model
    if fast_cnn_supported(model):
        return _FastPathForward(model, cnn_inference, None, None)  # type: ignore[arg-type]
    if fast_hybrid_supported(model):
        return _FastPathForward(model, hybrid_forward, FAST_MAX_STEPS, None)  # type: ignore[arg-type]
    return model
