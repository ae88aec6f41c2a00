"""Convolution blocks computed on ``(batch, length, channels)`` rows.

Why: the built-in CNN and hybrid read short signals (a row of ten features; windows of ten
steps), where PyTorch's stock kernels for ``(batch, channels, length)`` — oneDNN's
convolution, BatchNorm's channel-first kernels, ``max_pool1d`` with its index bookkeeping —
cost far more in fixed overhead than in arithmetic. On rows, a ``kernel_size=3, padding=1``
convolution is one ``addmm`` of the signal's columns against the weight read as
``(out, in * 3)``, BatchNorm runs on ``(batch * length, channels)`` (the same per-channel
statistics over batch and length) and max-pooling by 2 is ``amax`` over a view of
neighbouring pairs. Same parameters, same buffers, same results to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TWO_PASS_ABOVE", "conv_block", "plain_conv_block"]


def plain_conv_block(conv: nn.Module, norm: nn.Module) -> bool:
    """True when ``conv`` and ``norm`` are the layers :func:`conv_block` computes: a plain
    ``Conv1d(kernel_size=3, padding=1)`` with bias and an affine ``BatchNorm1d`` keeping
    running estimates with a momentum."""
    plain_conv = (
        type(conv) is nn.Conv1d and conv.kernel_size == (3,) and conv.padding == (1,)
        and conv.stride == (1,) and conv.dilation == (1,) and conv.groups == 1
        and conv.padding_mode == "zeros" and conv.bias is not None
    )
    plain_norm = (
        type(norm) is nn.BatchNorm1d and norm.affine and norm.track_running_stats
        and norm.momentum is not None
    )
    return plain_conv and plain_norm


def conv_block(signal: Tensor, conv: nn.Conv1d, norm: nn.BatchNorm1d) -> Tensor:
    """Conv1d(k=3, padding=1) -> BatchNorm -> ReLU -> max-pool by 2 on ``(batch, length,
    channels)`` rows, as the modules compute it on ``(batch, channels, length)`` (BatchNorm in
    its own mode: batch statistics and updated estimates when training). Differentiable."""
    batch, length, channels = signal.shape
    # Column (c * 3 + k) holds input channel c at offset k: the order of weight.view.
    columns = torch.constant_pad_nd(signal, (0, 0, 1, 1)).unfold(1, 3, 1)
    weight = conv.weight.view(conv.out_channels, channels * 3)
    out = torch.addmm(conv.bias, columns.reshape(batch * length, channels * 3), weight.t())
    if norm.training:
        assert norm.num_batches_tracked is not None
        norm.num_batches_tracked.add_(1)
    if norm.training and out.shape[0] > TWO_PASS_ABOVE:
        out = _two_pass_batch_norm(out, norm)
    elif norm.training:
        out = _shifted_batch_norm(out, norm)
    else:
        out = F.batch_norm(
            out, norm.running_mean, norm.running_var, norm.weight, norm.bias,
            training=False, eps=norm.eps,
        )
    out = out.view(batch, length, conv.out_channels)
    if length >= 2:
        # max_pool1d(kernel_size=2) drops an odd last position; pooling before the ReLU gives
        # the same values (ReLU is monotonic) on half the elements.
        half = length // 2
        out = out[:, : 2 * half].view(batch, half, 2, conv.out_channels).amax(2)
    return torch.relu(out)


TWO_PASS_ABOVE = 4096
"""Rows (batch x length) above which training-mode BatchNorm statistics on rows are computed
in two passes (:func:`_two_pass_batch_norm`); below, the kernel is as accurate and cheaper."""


def _shifted_batch_norm(rows: Tensor, norm: nn.BatchNorm1d) -> Tensor:
    """Training-mode BatchNorm of ``(rows, channels)`` with one row of the batch taken off
    first: the kernel's variance loses digits when a channel's mean is large against its SD,
    and the output does not depend on the shift (the running mean gets it back)."""
    assert norm.running_mean is not None
    shift = rows[0].detach().clone()
    # The kernel updates (and autograd keeps) the running mean it is given: a shifted copy.
    shifted_mean = norm.running_mean - shift
    out = F.batch_norm(rows - shift, shifted_mean, norm.running_var, norm.weight, norm.bias,
                       training=True, momentum=norm.momentum or 0.0, eps=norm.eps)
    norm.running_mean.copy_(shifted_mean + shift)
    return out


def _two_pass_batch_norm(rows: Tensor, norm: nn.BatchNorm1d) -> Tensor:
    """Training-mode BatchNorm of ``(rows, channels)``, statistics in two passes (mean, then
    the mean square of the centred values), running estimates updated as the module does.

    Why: the kernel sums this layout in one float32 pass; at 33 x 1,000 values its inverse SD
    was 8e-5 off (the module's channel-first kernel: 1e-7). Differentiable.
    """
    mean = rows.mean(0)
    centred = rows - mean
    variance = centred.square().mean(0)
    momentum = float(norm.momentum or 0.0)
    assert norm.running_mean is not None and norm.running_var is not None
    with torch.no_grad():
        count = rows.shape[0]
        norm.running_mean.mul_(1.0 - momentum).add_(mean, alpha=momentum)
        norm.running_var.mul_(1.0 - momentum).add_(variance, alpha=momentum * count / (count - 1))
    return centred * (torch.rsqrt(variance + norm.eps) * norm.weight) + norm.bias
