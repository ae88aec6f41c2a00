"""The CNN's hand-computed training step gives the loss, gradients and running estimates that
autograd through the module gives."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine_helpers import accuracy_with
from networkfed.core.errors import DataValidationError
from networkfed.data.types import SplitTensors
from networkfed.federated.evaluation import predict_failure
from networkfed.federated.fast_cnn import CNNTrainingStep, cnn_inference, fast_cnn_supported
from networkfed.federated.fast_layers import keep_mask, use_fast_dropout
from networkfed.federated.local_training import FitInstructions, ModelSpec, SiteTrainer
from networkfed.federated.training_step import AutogradStep, FastPathStep, training_step
from networkfed.models import training_config
from networkfed.models.cnn import OptimizedCNNModel
from networkfed.models.lstm import OptimizedLSTMModel

SHAPES = [
    (10, None, [32, 64, 128]),  # rows: signal 10 -> 5 -> 2 -> 1
    (8, 4, [8, 16, 8]),  # windows: signal 32
    (7, 1, [8, 16, 4]),  # odd lengths: 7 -> 3 -> 1 -> 1 (the last block does not pool)
    (1, None, [4, 4]),  # a signal of one value: nothing is pooled
]


def _pair(**kwargs: object) -> tuple[OptimizedCNNModel, OptimizedCNNModel]:
    torch.manual_seed(3)
    model = OptimizedCNNModel(**kwargs)  # type: ignore[arg-type]
    return model, copy.deepcopy(model)


def _assert_same_state(module: nn.Module, fast: nn.Module, what: str) -> None:
    for (name, a), b in zip(module.named_parameters(), fast.parameters(), strict=True):
        assert b.grad is not None, name
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5, msg=f"{name}, {what}")
    for (name, a), b in zip(module.named_buffers(), fast.buffers(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=f"{name}, {what}")


@pytest.mark.parametrize(("input_dim", "sequence_length", "filters"), SHAPES)
def test_without_dropout_loss_gradients_and_estimates_equal_autograd(
    input_dim: int, sequence_length: int | None, filters: list[int]
) -> None:
    module, fast = _pair(input_dim=input_dim, num_classes=3, sequence_length=sequence_length,
                         conv_filters=filters, dropout_rate=0.0)
    step = CNNTrainingStep(fast)
    generator = torch.Generator().manual_seed(0)
    weights = torch.tensor([0.4, 1.0, 3.5])
    for round_ in range(2):  # the second step starts from updated running estimates
        x = torch.randn(24, sequence_length or 1, input_dim, generator=generator)
        y = torch.randint(0, 3, (24,), generator=generator)
        module.zero_grad(set_to_none=True)
        expected = F.cross_entropy(module(x), y, weight=weights)
        expected.backward()
        got = step(x, y, weights)
        assert not got.requires_grad
        torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-6)
        _assert_same_state(module, fast, f"step {round_}")
    assert fast.bn1.num_batches_tracked.item() == 2


def _reference_with_masks(model: OptimizedCNNModel, x: Tensor, masks: list[Tensor]) -> Tensor:
    """The module's own layers with given dropout masks (channels-last masks, transposed to
    the module's (batch, channels, length) layout)."""
    hidden = x.reshape(x.shape[0], 1, model.signal_length)
    masks = list(masks)
    for index in range(1, model.num_blocks + 1):
        conv, norm = getattr(model, f"conv{index}"), getattr(model, f"bn{index}")
        hidden = F.relu(norm(conv(hidden)))
        if hidden.shape[-1] >= 2:
            hidden = F.max_pool1d(hidden, 2)
        hidden = hidden * masks.pop(0).transpose(1, 2)
    hidden = hidden.flatten(1)
    for index in range(1, model.num_fc):
        hidden = F.relu(getattr(model, f"fc{index}")(hidden)) * masks.pop(0)
    return getattr(model, f"fc{model.num_fc}")(hidden)


@pytest.mark.parametrize(("input_dim", "sequence_length", "filters"), SHAPES[:3])
def test_with_dropout_the_gradients_follow_the_masks_drawn(
    input_dim: int, sequence_length: int | None, filters: list[int]
) -> None:
    """The step draws all masks in one call from the global generator; the module with the
    same masks applied by hand gives the same loss and gradients."""
    module, fast = _pair(input_dim=input_dim, num_classes=2, sequence_length=sequence_length,
                         conv_filters=filters, dropout_rate=0.3)
    use_fast_dropout(fast)
    step = CNNTrainingStep(fast)
    batch = 16
    x = torch.randn(batch, sequence_length or 1, input_dim)
    y = torch.tensor([0, 1] * (batch // 2))
    torch.manual_seed(21)
    got = step(x, y)
    torch.manual_seed(21)
    sizes = [batch * size for size in step._mask_sizes]
    drawn = keep_mask(torch.Size([sum(sizes)]), 0.3, torch.float32).split(sizes)
    shapes = [(batch, b.pooled_length, b.out_channels) for b in step.blocks]
    shapes += [(batch, linear.weight.shape[0]) for linear in step.linears[:-1]]
    masks = [mask.view(shape) for mask, shape in zip(drawn, shapes, strict=True)]
    assert 0.6 < float(torch.cat(drawn).ne(0).float().mean()) < 0.8
    expected = F.cross_entropy(_reference_with_masks(module, x, masks), y)
    expected.backward()
    torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-6)
    _assert_same_state(module, fast, "dropout")


def test_dropout_of_one_drops_everything_and_zero_draws_nothing() -> None:
    _, model = _pair(input_dim=10, num_classes=2)
    model.dropout.p = 1.0  # the model's settings stop at 0.99..., the layer itself does not
    step = CNNTrainingStep(model)
    step(torch.randn(8, 10), torch.tensor([0, 1] * 4))
    assert model.fc1.weight.grad is not None and not model.fc1.weight.grad.any()
    assert model.fc3.weight.grad is not None and not model.fc3.weight.grad.any()
    _, model = _pair(input_dim=10, num_classes=2, dropout_rate=0.0)
    x, y = torch.randn(8, 10), torch.tensor([0, 1] * 4)
    state = torch.random.get_rng_state()
    CNNTrainingStep(model)(x, y)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_gradients_replace_what_was_there() -> None:
    """The step sets ``.grad``; a stale gradient is not added to."""
    module, fast = _pair(input_dim=10, num_classes=2, dropout_rate=0.0)
    x, y = torch.randn(8, 10), torch.tensor([0, 1] * 4)
    for param in fast.parameters():
        param.grad = torch.full_like(param, 5.0)
    F.cross_entropy(module(x), y).backward()
    CNNTrainingStep(fast)(x, y)
    _assert_same_state(module, fast, "stale gradients")


def test_wrong_input_and_a_batch_of_one_value_raise_the_models_own_errors() -> None:
    _, model = _pair(input_dim=10, num_classes=2, sequence_length=4)
    step = CNNTrainingStep(model)
    with pytest.raises(DataValidationError, match="built for windows of 4 step"):
        step(torch.randn(3, 5, 10), torch.zeros(3, dtype=torch.long))
    with pytest.raises(DataValidationError, match=r"expects input of shape \(batch, 10\)"):
        step(torch.randn(3, 4, 9), torch.zeros(3, dtype=torch.long))
    model.eval()
    with pytest.raises(RuntimeError, match=r"call model.train\(\) first"):
        step(torch.randn(3, 4, 10), torch.zeros(3, dtype=torch.long))
    _, one_value = _pair(input_dim=1, num_classes=2, conv_filters=[4])
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        CNNTrainingStep(one_value)(torch.randn(1, 1), torch.zeros(1, dtype=torch.long))


@pytest.mark.parametrize(("input_dim", "sequence_length", "filters"), SHAPES)
def test_inference_equals_the_module_in_eval_mode(
    input_dim: int, sequence_length: int | None, filters: list[int]
) -> None:
    module, _ = _pair(input_dim=input_dim, num_classes=2, sequence_length=sequence_length,
                      conv_filters=filters)
    for _ in range(3):  # running estimates away from their initial values
        module(torch.randn(16, sequence_length or 1, input_dim))
    module.eval()
    x = torch.randn(40, sequence_length or 1, input_dim)
    with torch.inference_mode():
        torch.testing.assert_close(cnn_inference(module, x), module(x), rtol=1e-5, atol=1e-6)
    expected = torch.softmax(module(x), 1)[:, 1].detach().double().numpy()
    np.testing.assert_allclose(predict_failure(module, x), expected, rtol=0, atol=1e-6)


def test_inference_of_input_that_does_not_fit_raises_the_models_own_error() -> None:
    module, _ = _pair(input_dim=10, num_classes=2, sequence_length=4)
    module.eval()
    with pytest.raises(DataValidationError, match="built for windows of 4 step"):
        cnn_inference(module, torch.randn(3, 5, 10))


def test_other_models_and_layers_keep_autograd() -> None:
    cnn = OptimizedCNNModel(10, 2)
    step = training_step(cnn)
    assert fast_cnn_supported(cnn) and isinstance(step, FastPathStep)
    assert isinstance(step.fast, CNNTrainingStep)
    assert fast_cnn_supported(OptimizedCNNModel(10, 2, sequence_length=100))  # 1,000 values
    long_signal = OptimizedCNNModel(10, 2, sequence_length=101)  # longer than measured
    assert not fast_cnn_supported(long_signal)
    assert isinstance(training_step(long_signal), AutogradStep)
    with pytest.raises(ValueError, match="not the built-in CNN"):
        CNNTrainingStep(long_signal)

    lstm = OptimizedLSTMModel(10, 2)
    assert not fast_cnn_supported(lstm) and isinstance(training_step(lstm), AutogradStep)

    class Custom(OptimizedCNNModel):
        pass

    assert not fast_cnn_supported(Custom(10, 2))

    wider = OptimizedCNNModel(10, 2)
    wider.conv2 = nn.Conv1d(32, 64, kernel_size=5, padding=2)
    assert not fast_cnn_supported(wider)

    no_estimates = OptimizedCNNModel(10, 2)
    no_estimates.bn1 = nn.BatchNorm1d(32, track_running_stats=False)
    assert not fast_cnn_supported(no_estimates)

    cumulative = OptimizedCNNModel(10, 2)
    cumulative.bn3.momentum = None
    assert not fast_cnn_supported(cumulative)

    other_dropout = OptimizedCNNModel(10, 2)
    other_dropout.dropout = nn.AlphaDropout(0.3)
    assert not fast_cnn_supported(other_dropout)

    frozen = OptimizedCNNModel(10, 2)
    frozen.conv1.weight.requires_grad_(False)
    assert not fast_cnn_supported(frozen)


def test_the_autograd_step_is_cross_entropy_and_backward() -> None:
    model = OptimizedLSTMModel(4, 2)
    x, y = torch.randn(6, 3, 4), torch.tensor([0, 1, 0, 1, 1, 0])
    weights = torch.tensor([1.0, 2.0])
    reference = copy.deepcopy(model)
    torch.manual_seed(0)
    loss = AutogradStep(model)(x, y, weights)
    torch.manual_seed(0)
    expected = F.cross_entropy(reference(x), y, weight=weights)
    expected.backward()
    assert not loss.requires_grad and torch.equal(loss, expected.detach())
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a.grad, b.grad)


def test_site_training_with_the_fast_step_learns_and_is_reproducible() -> None:
    """The trainer uses the hand-computed step; the same seed gives the same weights, and
    the trained model separates a learnable rule better than the start."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 1, 10, generator=generator)
    y = (x[:, 0, 0] + x[:, 0, 3] > 1.0).long()
    train = SplitTensors(x, y, np.zeros(400, dtype=np.int64))
    spec = ModelSpec("cnn", 10, 2, {"sequence_length": 1})
    instructions = FitInstructions(round_num=1, local_epochs=15, seed=11, class_weights=(0.65, 2.1))
    start = spec.build(seed=5).get_parameters()

    def fit() -> dict[str, torch.Tensor]:
        trainer = SiteTrainer(spec, training_config("cnn"))
        assert isinstance(trainer._step, FastPathStep)
        assert isinstance(trainer._step.fast, CNNTrainingStep)
        return dict(trainer.fit(start, train, "site", instructions).state)

    first, second = fit(), fit()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    before, after = accuracy_with(spec, start, x, y), accuracy_with(spec, first, x, y)
    assert after > 0.9 > before, (before, after)
