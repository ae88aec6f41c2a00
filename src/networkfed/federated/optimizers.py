"""The local optimiser: Adam and AdamW run straight on PyTorch's fused kernels.

Why not ``torch.optim.Adam(fused=True)``: it runs the very same kernel, but its first use
imports ``torch._dynamo`` (about a second of CPU in every process that trains, on the
critical path of a run's start) and every step passes through hooks, profiler records and
device grouping (~40 µs). A site of a few windows takes one or two steps a round, so in a
1,000-site run that wrapping costs more than the arithmetic. :class:`FusedAdam` keeps the
kernel and drops the wrapping; the numbers are the same bit for bit
(``tests/federated/test_optimizers.py`` compares it with ``torch.optim``). Where the kernel is
missing (another PyTorch build) or does not apply, :func:`make_optimizer` returns
``torch.optim``'s own class with the same settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import torch
from torch import Tensor

__all__ = ["FusedAdam", "LocalOptimizer", "fused_adam_available", "make_optimizer"]

BETAS = (0.9, 0.999)
EPS = 1e-8
"""``torch.optim.Adam``'s defaults, which the training configurations do not change."""


class LocalOptimizer(Protocol):
    """What local training needs of an optimiser (``torch.optim.Optimizer`` fits)."""

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def step(self) -> object: ...


FUSED_DEVICES = frozenset({"cpu", "cuda"})
"""Devices whose fused Adam kernels this module relies on; others get ``torch.optim``."""


def fused_adam_available(params: Iterable[Tensor]) -> bool:
    """True when this PyTorch has the fused Adam kernels and every parameter suits them
    (real floating point, on a device in :data:`FUSED_DEVICES`)."""
    return (
        hasattr(torch, "_fused_adam_")
        and hasattr(torch, "_fused_adamw_")
        and all(p.is_floating_point() and p.device.type in FUSED_DEVICES for p in params)
    )


class FusedAdam:
    """Adam (or AdamW with ``decoupled_weight_decay``) as ``torch.optim`` computes it with
    ``fused=True``, without the ``torch.optim.Optimizer`` machinery.

    State (step count, first and second moments) starts at zero for a parameter the first
    time it has a gradient, as in ``torch.optim``; parameters without a gradient are skipped.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        *,
        lr: float,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
    ) -> None:
        self.params = list(params)
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self._kernel = torch._fused_adamw_ if decoupled_weight_decay else torch._fused_adam_
        device = self.params[0].device if self.params else None
        self._step_counts = torch.zeros(len(self.params), dtype=torch.float32, device=device)
        """Every parameter's step count, one vector: when all parameters have a gradient
        (the usual case) one ``add_`` counts the step for all of them (~30 µs less a step
        than adding to eighteen separate counters)."""
        self._moments: dict[int, tuple[Tensor, Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.params:
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.zero_()

    def step(self) -> None:
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for index, param in enumerate(self.params):
            if param.grad is None:
                continue
            moments = self._moments.get(index)
            if moments is None:
                moments = self._moments[index] = (
                    torch.zeros_like(param, memory_format=torch.preserve_format),
                    torch.zeros_like(param, memory_format=torch.preserve_format),
                )
            params.append(param)
            grads.append(param.grad)
            steps.append(self._step_counts[index])
            exp_avgs.append(moments[0])
            exp_avg_sqs.append(moments[1])
        if not params:
            return
        with torch.no_grad():
            if len(params) == len(self.params):
                self._step_counts.add_(1)
            else:
                torch._foreach_add_(steps, 1)
            self._kernel(
                params, grads, exp_avgs, exp_avg_sqs, [], steps,
                amsgrad=False, lr=self.lr, beta1=BETAS[0], beta2=BETAS[1],
                weight_decay=self.weight_decay, eps=EPS, maximize=False,
                grad_scale=None, found_inf=None,
            )


def torch_optimizer(
    name: str, params: list[Tensor], *, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """``torch.optim``'s own optimiser a training configuration names (what wrappers such as
    Opacus' ``DPOptimizer`` need: a real ``torch.optim.Optimizer``)."""
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    optimizer_class = torch.optim.AdamW if name == "AdamW" else torch.optim.Adam
    return optimizer_class(params, lr=lr, weight_decay=weight_decay)


def make_optimizer(
    name: str, params: list[Tensor], *, lr: float, weight_decay: float
) -> LocalOptimizer:
    """The optimiser a training configuration names (``Adam``, ``AdamW`` or ``SGD``)."""
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, foreach=True)
    decoupled = name == "AdamW"
    if fused_adam_available(params):
        return FusedAdam(params, lr=lr, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled)
    optimizer_class = torch.optim.AdamW if decoupled else torch.optim.Adam
    return optimizer_class(params, lr=lr, weight_decay=weight_decay)
