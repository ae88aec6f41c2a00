"""Sample-level DP-SGD inside a site's local training, with Opacus.

Each step clips every example's gradient to ``clip`` and adds Gaussian noise of SD
``noise_multiplier * clip`` to their sum (Opacus' ``GradSampleModule`` + ``DPOptimizer``), so
what a site sends protects each of its rows, whatever the server does with it.

Opacus cannot compute per-example gradients of ``nn.LSTM``; ``ModuleValidator.fix`` swaps it
for ``DPLSTM``, which computes the same function from the same named parameters. Training
runs on such a fixed copy, and the weights go back into the federation's own architecture —
so checkpoints, ``predict`` and ``export`` rebuild exactly the model they always do. A fix that
changes the weights themselves (BatchNorm -> GroupNorm in the CNN and the hybrid) would make a
different model; such models are refused (:func:`dp_sgd_changes`).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.privacy.accounting import import_opacus

__all__ = ["DPSGDTrainer", "dp_sgd_changes", "steps_per_epoch"]


def _fix(model: nn.Module) -> nn.Module:
    import_opacus()
    from opacus.validators import ModuleValidator

    return ModuleValidator.fix(copy.deepcopy(model))


def dp_sgd_changes(model: nn.Module) -> tuple[list[str], str | None]:
    """What Opacus' fix replaces in ``model`` (e.g. ``LSTM -> DPLSTM``), and why DP-SGD
    cannot train it (``None``: it can, with the very same weights)."""
    fixed = _fix(model)
    before = {name: type(m).__name__ for name, m in model.named_modules()}
    after = {name: type(m).__name__ for name, m in fixed.named_modules()}
    changes = sorted({f"{before[n]} -> {after[n]}" for n in before
                      if n in after and before[n] != after[n]})
    shapes = {k: tuple(p.shape) for k, p in model.named_parameters()}
    if shapes != {k: tuple(p.shape) for k, p in fixed.named_parameters()}:
        return changes, f"Opacus' fix ({', '.join(changes)}) changes the model's weights"
    if {k for k, _ in model.named_buffers()} != {k for k, _ in fixed.named_buffers()}:
        return changes, (f"Opacus' fix ({', '.join(changes)}) drops the model's buffers "
                         "(BatchNorm statistics)")
    return changes, None


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Optimizer steps of one epoch (a last batch of one joins the one before, as
    :func:`networkfed.federated.local_training.batch_indices` does)."""
    batches = math.ceil(examples / batch_size)
    last = examples - (batches - 1) * batch_size
    return batches - 1 if batches > 1 and last == 1 else batches


class DPSGDTrainer:
    """Trains a site's model with DP-SGD on an Opacus-compatible twin of it.

    Parameters
    ----------
    model
        A fresh model of the federation's architecture (its weights are not used).
    """

    def __init__(self, model: nn.Module) -> None:
        import_opacus()
        from opacus import GradSampleModule

        self.twin = _fix(model)
        self.module = GradSampleModule(self.twin, loss_reduction="mean")
        self._params = dict(self.twin.named_parameters())

    def train(
        self, model: nn.Module, batches: Callable[[], Iterable[tuple[Tensor, Tensor]]],
        *, epochs: int, class_weights: Tensor | None,
        optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
        noise_multiplier: float, clip: float, batch_size: int, generator: torch.Generator,
    ) -> float:
        """``epochs`` of DP-SGD from ``model``'s weights; they are written back into ``model``.

        The loss of a batch is the class-weighted sum over its examples divided by the batch
        size, so every example's gradient is its own and clipping bounds it.
        """
        from opacus.optimizers import DPOptimizer

        self._copy(model.named_parameters(), self._params)
        self.module.train()
        dp = DPOptimizer(optimizer(list(self.module.parameters())),
                         noise_multiplier=noise_multiplier, max_grad_norm=clip,
                         expected_batch_size=batch_size, loss_reduction="mean",
                         generator=generator)
        total, seen = 0.0, 0
        with warnings.catch_warnings():
            # Opacus' hooks fire on module outputs: inputs never need gradients here
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            total, seen = self._epochs(dp, batches, epochs, class_weights)
        self._copy(self._params.items(), dict(model.named_parameters()))
        return total / max(seen, 1)

    def _epochs(
        self, dp: torch.optim.Optimizer, batches: Callable[[], Iterable[tuple[Tensor, Tensor]]],
        epochs: int, class_weights: Tensor | None,
    ) -> tuple[float, int]:
        total, seen = 0.0, 0
        for _ in range(epochs):
            for x, y in batches():
                dp.zero_grad(set_to_none=True)
                losses = F.cross_entropy(self.module(x), y, weight=class_weights,
                                         reduction="none")
                loss = losses.sum() / len(y)
                loss.backward()
                dp.step()
                total += float(losses.sum().detach())
                seen += len(y)
        return total, seen

    @staticmethod
    def _copy(source: Iterable[tuple[str, Tensor]], target: dict[str, Tensor]) -> None:
        with torch.no_grad():
            for name, value in source:
                target[name].copy_(value)
