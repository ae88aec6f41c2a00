"""The CNN's training forward in fewer operations computes what the module computes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from networkfed.core.errors import DataValidationError
from networkfed.data.types import SplitTensors
from networkfed.federated.fast_cnn import cnn_forward, fast_cnn_supported, training_forward
from networkfed.federated.local_training import FitInstructions, ModelSpec, SiteTrainer
from networkfed.models import training_config
from networkfed.models.cnn import OptimizedCNNModel
from networkfed.models.lstm import OptimizedLSTMModel


def _pair(**kwargs: object) -> tuple[OptimizedCNNModel, OptimizedCNNModel]:
    """Two identical CNNs without dropout (dropout masks are drawn in another order)."""
    torch.manual_seed(3)
    model = OptimizedCNNModel(dropout_rate=0.0, **kwargs)  # type: ignore[arg-type]
    return model, copy.deepcopy(model)


@pytest.mark.parametrize(
    ("input_dim", "sequence_length", "filters"),
    [
        (10, None, [32, 64, 128]),  # rows: signal 10 -> 5 -> 2 -> 1
        (10, 10, [32, 64, 128]),  # windows: signal 100
        (7, 1, [8, 16, 4]),  # odd lengths: 7 -> 3 -> 1 -> 1 (the last block does not pool)
        (1, None, [4, 4]),  # a signal of one value: nothing is pooled
    ],
)
def test_outputs_gradients_and_running_estimates_equal_the_module(
    input_dim: int, sequence_length: int | None, filters: list[int]
) -> None:
    module, fast = _pair(input_dim=input_dim, num_classes=2, sequence_length=sequence_length,
                         conv_filters=filters)
    x = torch.randn(24, sequence_length or 1, input_dim)
    weights = torch.randn(24, 2)
    for step in range(2):  # the second step starts from updated running estimates
        expected, got = module(x), cnn_forward(fast, x)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        (expected * weights).sum().backward()
        (got * weights).sum().backward()
        for (name, a), b in zip(module.named_parameters(), fast.parameters(), strict=True):
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5, msg=name)
        for (name, a), b in zip(module.named_buffers(), fast.buffers(), strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=f"{name}, step {step}")
    module.eval()
    fast.eval()
    torch.testing.assert_close(cnn_forward(fast, x), module(x), rtol=1e-5, atol=1e-5)
    assert fast.bn1.num_batches_tracked.item() == 2


def test_a_flat_row_batch_is_read_as_one_step() -> None:
    module, fast = _pair(input_dim=10, num_classes=2)
    x = torch.randn(8, 10)
    torch.testing.assert_close(cnn_forward(fast, x), module(x), rtol=1e-5, atol=1e-5)


def test_wrong_input_raises_the_models_own_error() -> None:
    _, fast = _pair(input_dim=10, num_classes=2, sequence_length=4)
    with pytest.raises(DataValidationError, match="built for windows of 4 step"):
        cnn_forward(fast, torch.randn(3, 5, 10))
    with pytest.raises(DataValidationError, match=r"expects input of shape \(batch, 10\)"):
        cnn_forward(fast, torch.randn(3, 4, 9))


def test_other_models_and_layers_keep_their_own_forward() -> None:
    cnn = OptimizedCNNModel(10, 2)
    assert fast_cnn_supported(cnn)
    assert training_forward(cnn) is not cnn
    long_signal = OptimizedCNNModel(10, 2, sequence_length=10)  # 100 values: no gain there
    assert not fast_cnn_supported(long_signal) and training_forward(long_signal) is long_signal

    lstm = OptimizedLSTMModel(10, 2)
    assert not fast_cnn_supported(lstm) and training_forward(lstm) is lstm

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


def test_site_training_with_the_fast_forward_learns_and_is_reproducible() -> None:
    """The trainer uses the fast forward; the same seed gives the same weights, and the
    trained model separates a learnable rule better than the start."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 1, 10, generator=generator)
    y = (x[:, 0, 0] + x[:, 0, 3] > 1.0).long()
    train = SplitTensors(x, y, np.zeros(400, dtype=np.int64))
    spec = ModelSpec("cnn", 10, 2, {"sequence_length": 1})
    instructions = FitInstructions(round_num=1, local_epochs=15, seed=11, class_weights=(0.65, 2.1))
    start = spec.build(seed=5).get_parameters()

    def fit() -> dict[str, torch.Tensor]:
        trainer = SiteTrainer(spec, training_config("cnn"))
        assert trainer._forward is not trainer.model
        return dict(trainer.fit(start, train, "site", instructions).state)

    first, second = fit(), fit()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    model = spec.build(seed=5).model
    model.load_state_dict(start)
    model.eval()
    with torch.no_grad():
        before = (model(x).argmax(1) == y).float().mean()
        model.load_state_dict(first)
        after = (model(x).argmax(1) == y).float().mean()
    assert after > 0.9 > before, (before, after)
