"""The built-in CNN's training step — loss and gradients — computed by hand.

Why: on short signals (the CNN reads a row of ten features as a signal of length 10) a
training step is a few dozen tiny operations, and its time goes to fixed costs per operation
rather than to arithmetic. PyTorch's stock path pays them three times over: oneDNN's
convolution, the ``(batch, channels, length)`` BatchNorm kernels and ``max_pool1d`` with its
index bookkeeping in the forward; then autograd's engine, one node per operation, with
generic backward formulas (max-pooling's alone cost ~35 µs a layer). Here the forward works
on ``(batch, length, channels)`` rows and keeps exactly what the backward needs:

- a ``kernel_size=3, padding=1`` convolution is one ``addmm`` of the signal's columns (the
  three shifted copies, ``pad`` + ``unfold``) against the weight read as ``(out, in * 3)``;
  its input gradient folds the columns' gradient back with two shifted adds;
- BatchNorm is ``native_batch_norm`` on ``(batch * length, channels)`` — the same
  per-channel statistics over batch and length, running estimates updated as
  ``nn.BatchNorm1d`` does — and its backward the kernel autograd would call;
- max-pooling by 2 is ``amax`` over a view of neighbouring pairs, before the ReLU (the same
  values on half the elements); the forward keeps one multiplier per input element — which
  of the pair won, times ReLU's and dropout's factors — so pooling, ReLU and dropout cost one
  multiplication in the backward;
- every dropout mask of the step is drawn in one call;
- the loss is the class-weighted cross-entropy, its gradient from the same kernels
  (``nll_loss_backward``, ``_log_softmax_backward_data``) autograd uses.

No autograd graph is built: the step writes each parameter's ``.grad``, so the optimiser,
FedProx, clipping, FedBN and FedPer see what they would after ``loss.backward()``. The model,
its parameters and its ``state_dict`` are untouched. Loss, gradients and BatchNorm running
estimates equal the module's to float rounding (tested); dropout masks are drawn in another
memory order than the module's, so a seeded run's numbers differ from the module's but are as
reproducible. Measured on one thread, batch 32, rows of ten features, with the optimiser's
step: 1.82 ms (the module) -> 1.15 ms (the forward rewritten, autograd behind it) -> 0.79 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from networkfed.federated.channels_last import TWO_PASS_ABOVE, conv_block, plain_conv_block
from networkfed.federated.fast_layers import FastDropout, keep_mask
from networkfed.models._layers import as_sequence
from networkfed.models.cnn import OptimizedCNNModel

__all__ = ["FAST_MAX_SIGNAL", "CNNTrainingStep", "cnn_inference", "fast_cnn_supported"]

_aten = torch.ops.aten

FAST_MAX_SIGNAL = 1000
"""The longest signal (window steps x features) the hand-computed step is used for: the
longest measured. Per step with the optimiser, one thread, batch 32, ten features (autograd
through the module / by hand, ms): 10 values 1.74 / 0.79, 20 values 2.17 / 1.20, 50 values
3.34 / 2.34, 100 values 7.92 / 4.49, 200 values 14.3 / 9.6, 300 values 21.1 / 14.2, 500
values 33.5 / 22.8, 1,000 values 69.2 / 47.4."""


def fast_cnn_supported(model: nn.Module) -> bool:
    """True for the built-in CNN with the layers it is built with, every parameter trained,
    on signals of at most :data:`FAST_MAX_SIGNAL` values (a subclass, another kernel size, a
    BatchNorm without running estimates, another kind of dropout or a frozen layer keeps
    autograd). Any floating dtype computes; local training uses it for float32 on the CPU
    (:func:`.training_step.training_step`)."""
    if type(model) is not OptimizedCNNModel or model.signal_length > FAST_MAX_SIGNAL:
        return False
    if type(model.dropout) not in (nn.Dropout, FastDropout):
        return False
    if not all(p.requires_grad for p in model.parameters()):
        return False
    for index in range(1, model.num_blocks + 1):
        if not plain_conv_block(getattr(model, f"conv{index}"), getattr(model, f"bn{index}")):
            return False
    return all(type(getattr(model, f"fc{i}")) is nn.Linear for i in range(1, model.num_fc + 1))


_TWO_PASS_ABOVE = TWO_PASS_ABOVE
"""Rows (batch x length) above which BatchNorm's statistics are computed in two passes
(:func:`_batch_norm`); below, one pass is as accurate as the module and cheaper."""


@dataclass(frozen=True)
class _Block:
    """One Conv1d -> BatchNorm -> ReLU -> max-pool -> dropout block, as the step reads it.

    Tensors are detached aliases of the model's own: the optimiser updates them in place, so
    they always hold the current weights, and no operation on them records autograd history.
    """

    length: int  # signal length entering the block
    channels: int  # input channels
    out_channels: int
    weight: Tensor  # (out, in * 3), a view of conv.weight
    bias: Tensor
    gamma: Tensor
    beta: Tensor
    running_mean: Tensor
    running_var: Tensor
    batches_tracked: Tensor
    momentum: float
    eps: float
    params: tuple[nn.Parameter, nn.Parameter, nn.Parameter, nn.Parameter]

    @property
    def pooled_length(self) -> int:
        return self.length // 2 if self.length >= 2 else self.length


@dataclass(frozen=True)
class _Linear:
    weight: Tensor
    bias: Tensor
    params: tuple[nn.Parameter, nn.Parameter]


@dataclass
class _Saved:
    """What a block's backward needs from its forward."""

    columns: Tensor
    pre_norm: Tensor
    mean: Tensor
    invstd: Tensor
    multiplier: Tensor  # d(block output) / d(BatchNorm output), pair by pair


class CNNTrainingStep:
    """Loss and gradients of one mini-batch for an :class:`OptimizedCNNModel` in training
    mode (:func:`fast_cnn_supported` models only).

    Calling it sets every parameter's ``.grad`` (replacing, not adding to, what was there),
    updates BatchNorm's running estimates and returns the mean class-weighted cross-entropy.
    """

    def __init__(self, model: OptimizedCNNModel) -> None:
        if not fast_cnn_supported(model):
            raise ValueError(f"{type(model).__name__} is not the built-in CNN this step computes")
        self.model = model
        self.blocks = self._blocks(model)
        self.linears = [
            _Linear(fc.weight.detach(), fc.bias.detach(), (fc.weight, fc.bias))
            for fc in (getattr(model, f"fc{i}") for i in range(1, model.num_fc + 1))
        ]
        self._mask_sizes = [b.pooled_length * b.out_channels for b in self.blocks]
        self._mask_sizes += [linear.weight.shape[0] for linear in self.linears[:-1]]
        self._upstream = torch.ones((), dtype=model.fc1.weight.dtype)  # d(loss)/d(loss)
        self._dtype = model.fc1.weight.dtype

    @staticmethod
    def _blocks(model: OptimizedCNNModel) -> list[_Block]:
        blocks, length, channels = [], model.signal_length, 1
        for index in range(1, model.num_blocks + 1):
            conv, norm = getattr(model, f"conv{index}"), getattr(model, f"bn{index}")
            assert norm.running_mean is not None and norm.running_var is not None
            assert norm.num_batches_tracked is not None and norm.momentum is not None
            block = _Block(
                length, channels, conv.out_channels,
                conv.weight.detach().view(conv.out_channels, channels * 3),
                conv.bias.detach(), norm.weight.detach(), norm.bias.detach(),
                norm.running_mean, norm.running_var, norm.num_batches_tracked,
                float(norm.momentum), float(norm.eps),
                (conv.weight, conv.bias, norm.weight, norm.bias),
            )
            blocks.append(block)
            length, channels = block.pooled_length, conv.out_channels
        return blocks

    def __call__(self, x: Tensor, y: Tensor, class_weights: Tensor | None = None) -> Tensor:
        model = self.model
        if not model.training:
            raise RuntimeError("CNNTrainingStep computes training steps: call model.train() "
                               "first (BatchNorm uses batch statistics and updates estimates)")
        window = as_sequence(x, model.input_dim, type(model).__name__)
        batch = window.shape[0]
        fits = window.shape[1] * window.shape[2] == model.signal_length
        # A signal that does not fit, or a batch where BatchNorm would see one value per
        # channel: the module raises its own error naming the shapes.
        if not fits or batch * self.blocks[-1].length < 2:
            model(x)
        masks = self._dropout_masks(batch)
        hidden, saved = window.reshape(batch, model.signal_length, 1), []
        for block in self.blocks:
            hidden, block_saved = self._block_forward(block, hidden, masks)
            saved.append(block_saved)
        # The head was built for the module's (batch, channels, length) flattening order.
        last = self.blocks[-1]
        hidden = hidden.transpose(1, 2).reshape(batch, -1)
        inputs, factors = [], []
        for linear in self.linears[:-1]:
            inputs.append(hidden)
            hidden, factor = _relu_dropout(torch.addmm(linear.bias, hidden, linear.weight.t()),
                                           masks)
            factors.append(factor)
        inputs.append(hidden)
        head = self.linears[-1]
        logits = torch.addmm(head.bias, hidden, head.weight.t())
        log_probs = torch.log_softmax(logits, 1)
        loss, total_weight = _aten.nll_loss_forward(log_probs, y, class_weights, 1, -100)
        grad = _aten._log_softmax_backward_data(
            _aten.nll_loss_backward(
                self._upstream, log_probs, y, class_weights, 1, -100, total_weight
            ),
            log_probs, 1, log_probs.dtype,
        )
        for index in range(len(self.linears) - 1, -1, -1):
            linear = self.linears[index]
            weight, bias = linear.params
            weight.grad, bias.grad = grad.t().mm(inputs[index]), grad.sum(0)
            grad = grad.mm(linear.weight)
            if index > 0:
                grad = grad * factors[index - 1]
        grad = grad.view(batch, last.out_channels, last.pooled_length).transpose(1, 2)
        for index in range(len(self.blocks) - 1, -1, -1):
            grad = self._block_backward(self.blocks[index], saved[index], grad, index > 0)
        return loss

    def _dropout_masks(self, batch: int) -> list[Tensor]:
        """Every dropout mask of the step, in the order the layers use them (``[]``: off).

        One draw instead of one per layer: each draw costs a handful of small operations, as
        much as the arithmetic of a layer on rows. Drawn from the global generator as
        ``FastDropout`` draws, with the same distribution (:func:`keep_mask`).
        """
        dropout = self.model.dropout
        if not dropout.training or dropout.p == 0.0:
            return []
        sizes = [batch * size for size in self._mask_sizes]
        if dropout.p == 1.0:
            drawn = torch.zeros(sum(sizes), dtype=self._dtype)
        else:
            drawn = keep_mask(torch.Size([sum(sizes)]), dropout.p, self._dtype)
        return list(drawn.split(sizes))

    @staticmethod
    def _block_forward(
        block: _Block, signal: Tensor, masks: list[Tensor]
    ) -> tuple[Tensor, _Saved]:
        """Conv1d(k=3, padding=1) -> BatchNorm -> max-pool by 2 -> ReLU -> dropout on
        ``(batch, length, channels)``."""
        batch, length, out = signal.shape[0], block.length, block.out_channels
        # Column (c * 3 + k) holds input channel c at offset k: the order of weight.view.
        columns = torch.constant_pad_nd(signal, (0, 0, 1, 1)).unfold(1, 3, 1)
        columns = columns.reshape(batch * length, block.channels * 3)
        pre_norm = torch.addmm(block.bias, columns, block.weight.t())
        normed, mean, invstd = _batch_norm(block, pre_norm)
        if length < 2:
            hidden, factor = _relu_dropout(normed.view(batch, 1, out), masks)
            return hidden, _Saved(columns, pre_norm, mean, invstd, factor)
        # max_pool1d(kernel_size=2) drops an odd last position; pooling before the ReLU gives
        # the same values (ReLU is monotonic) on half the elements.
        half = length // 2
        pairs = normed.view(batch, length, out)[:, : 2 * half].view(batch, half, 2, out)
        first, second = pairs[:, :, 0], pairs[:, :, 1]
        pooled = torch.maximum(first, second)
        hidden, factor = _relu_dropout(pooled, masks)
        # Which of the pair won; on a tie the first, as max_pool1d decides. Ties are common:
        # a constant stretch of the signal (a constant sensor, a zero-padded edge, ReLU's
        # zeros in a deeper block) gives neighbours equal outputs, and giving both the
        # gradient would count it twice.
        multiplier = pairs.new_empty(pairs.shape)
        first_won = torch.ge(first, second, out=pooled.new_empty(pooled.shape))
        torch.mul(first_won, factor, out=multiplier[:, :, 0])
        torch.sub(factor, multiplier[:, :, 0], out=multiplier[:, :, 1])
        return hidden, _Saved(columns, pre_norm, mean, invstd, multiplier)

    @staticmethod
    def _block_backward(block: _Block, saved: _Saved, grad: Tensor, wants_input: bool) -> Tensor:
        """Set the block's parameter gradients; return the gradient of its input (or of
        nothing when ``wants_input`` is false: the first block's input is the data)."""
        length, out, channels = block.length, block.out_channels, block.channels
        batch = grad.shape[0]
        if length < 2:
            grad_normed = (grad * saved.multiplier).view(batch, out)
        elif length % 2 == 0:
            grad_normed = (grad.unsqueeze(2) * saved.multiplier).view(batch * length, out)
        else:  # the odd last position was dropped by the pooling: no gradient there
            grad_normed = grad.new_zeros(batch, length, out)
            grad_normed[:, : length - 1] = (grad.unsqueeze(2) * saved.multiplier).flatten(1, 2)
            grad_normed = grad_normed.view(batch * length, out)
        grad_pre, grad_gamma, grad_beta = _batch_norm_backward(block, saved, grad_normed)
        weight, bias, gamma, beta = block.params
        weight.grad = grad_pre.t().mm(saved.columns).view(weight.shape)
        bias.grad, gamma.grad, beta.grad = grad_pre.sum(0), grad_gamma, grad_beta
        if not wants_input:
            return grad
        # Fold the columns' gradient back: column offset k of position l read input l + k - 1.
        grad_columns = grad_pre.mm(block.weight).view(batch, length, channels, 3)
        grad_input = grad_columns[:, :, :, 1].clone()
        if length > 1:
            grad_input[:, 1:] += grad_columns[:, :-1, :, 2]
            grad_input[:, :-1] += grad_columns[:, 1:, :, 0]
        return grad_input


def _batch_norm(block: _Block, pre_norm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """BatchNorm in training mode on ``(rows, channels)``: output, batch mean (of the input as
    it is left, possibly shifted in place) and inverse SD, running estimates updated as
    ``nn.BatchNorm1d`` updates them.

    Above :data:`_TWO_PASS_ABOVE` rows the statistics are computed here, in two passes (mean,
    then the mean square of the centred values): ``native_batch_norm`` sums this layout in one
    float32 pass, and at 33 x 1,000 values its inverse SD was 8e-5 off (the module's kernel:
    1e-7), which moved the next block's input by 1e-4.
    """
    block.batches_tracked.add_(1)
    rows = pre_norm.shape[0]
    if rows <= _TWO_PASS_ABOVE:
        # The kernel's variance loses digits when a channel's mean is large against its SD
        # (a one-channel block after ReLU: 1e-5 of the loss); one row of the batch, taken
        # off in place, brings every channel's mean within a few SDs of 0. Output and
        # gradients do not depend on the shift; the running mean gets it back.
        shift = pre_norm[0].clone()
        normed, mean, invstd = torch.native_batch_norm(
            pre_norm.sub_(shift), block.gamma, block.beta, block.running_mean,
            block.running_var, True, block.momentum, block.eps,
        )
        block.running_mean.add_(shift, alpha=block.momentum)
        return normed, mean, invstd
    mean = pre_norm.mean(0)
    centred = pre_norm - mean
    variance = centred.square().mean(0)
    invstd = torch.rsqrt(variance + block.eps)
    normed = torch.addcmul(block.beta, centred, invstd * block.gamma)
    momentum = block.momentum
    block.running_mean.mul_(1.0 - momentum).add_(mean, alpha=momentum)
    block.running_var.mul_(1.0 - momentum).add_(variance, alpha=momentum * rows / (rows - 1))
    return normed, mean, invstd


def _batch_norm_backward(
    block: _Block, saved: _Saved, grad: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of BatchNorm's input, weight and bias (:func:`_batch_norm`'s backward); above
    :data:`_TWO_PASS_ABOVE` rows its two sums are taken here, pairwise, for the same reason."""
    rows = grad.shape[0]
    if rows <= _TWO_PASS_ABOVE:
        return _aten.native_batch_norm_backward(
            grad, saved.pre_norm, block.gamma, block.running_mean, block.running_var,
            saved.mean, saved.invstd, True, block.eps, [True, True, True],
        )
    normalised = (saved.pre_norm - saved.mean).mul_(saved.invstd)
    grad_beta, grad_gamma = grad.sum(0), (grad * normalised).sum(0)
    # d loss / d x = gamma * invstd * (g - mean(g) - x_hat * mean(g * x_hat))
    grad_input = grad - normalised.mul_(grad_gamma / rows) - grad_beta / rows
    return grad_input.mul_(block.gamma * saved.invstd), grad_gamma, grad_beta


def cnn_inference(model: OptimizedCNNModel, x: Tensor) -> Tensor:
    """``model(x)`` in eval mode, computed on ``(batch, length, channels)`` rows as the
    training step computes it (call under ``torch.inference_mode()``).

    Evaluation predicts every site's validation and test rows each round; on rows this is
    2.2x faster than the module (5.2 ms against 11.1 ms for 1,170 rows on one thread, where
    ``max_pool1d`` alone took 2.1 ms) and equal to it to float rounding (tested).
    """
    window = as_sequence(x, model.input_dim, type(model).__name__)
    if window.shape[1] * window.shape[2] != model.signal_length or model.training:
        return model(x)  # raises the model's own error for a signal that does not fit
    batch = window.shape[0]
    hidden = window.reshape(batch, model.signal_length, 1)
    for index in range(1, model.num_blocks + 1):
        hidden = conv_block(hidden, getattr(model, f"conv{index}"), getattr(model, f"bn{index}"))
    hidden = hidden.transpose(1, 2).reshape(batch, -1)
    for index in range(1, model.num_fc):
        hidden = torch.relu(getattr(model, f"fc{index}")(hidden))
    return getattr(model, f"fc{model.num_fc}")(hidden)


def _relu_dropout(values: Tensor, masks: list[Tensor]) -> tuple[Tensor, Tensor]:
    """ReLU then the next dropout mask (none when ``masks`` is empty); returns the output and
    its derivative by ``values``, elementwise.

    Masks are float: on this CPU a comparison written into a float tensor is about three
    times faster than into a bool one, and float-by-float products than bool-by-float ones
    (5.6 against 11.5 µs here for a 32 x 256 layer).
    """
    factor = torch.gt(values, 0, out=values.new_empty(values.shape))
    if masks:
        factor.mul_(masks.pop(0).view(values.shape))
    return values * factor, factor

