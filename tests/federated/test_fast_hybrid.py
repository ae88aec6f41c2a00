"""The hybrid's forward with its convolution blocks on rows computes what the module
computes, in training (gradients, running estimates) and in eval mode."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine_helpers import accuracy_with
from networkfed.data.types import SplitTensors
from networkfed.federated.evaluation import predict_failure
from networkfed.federated.fast_hybrid import fast_hybrid_supported, hybrid_forward
from networkfed.federated.local_training import FitInstructions, ModelSpec, SiteTrainer
from networkfed.federated.training_step import (
    AutogradStep,
    FastPathStep,
    inference_forward,
    training_step,
)
from networkfed.models import training_config
from networkfed.models.hybrid import OptimizedHybridModel

SHAPES = [(10, 10, [32, 64]), (7, 7, [8, 16]), (4, 1, [8]), (3, 5, [4, 6, 5])]


def _pair(**kwargs: object) -> tuple[OptimizedHybridModel, OptimizedHybridModel]:
    torch.manual_seed(4)
    model = OptimizedHybridModel(**kwargs)  # type: ignore[arg-type]
    return model, copy.deepcopy(model)


@pytest.mark.parametrize(("input_dim", "steps", "filters"), SHAPES)
def test_training_outputs_gradients_and_estimates_equal_the_module(
    input_dim: int, steps: int, filters: list[int]
) -> None:
    module, rows = _pair(input_dim=input_dim, num_classes=2, sequence_length=steps,
                         cnn_filters=filters, lstm_hidden=16, dropout_rate=0.0)
    generator = torch.Generator().manual_seed(0)
    for step in range(2):
        x = torch.randn(12, steps, input_dim, generator=generator)
        y = torch.randint(0, 2, (12,), generator=generator)
        expected, got = module(x), hybrid_forward(rows, x)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
        F.cross_entropy(expected, y).backward()
        F.cross_entropy(got, y).backward()
        for (name, a), b in zip(module.named_parameters(), rows.parameters(), strict=True):
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5, msg=name)
        for (name, a), b in zip(module.named_buffers(), rows.buffers(), strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=f"{name}, step {step}")
    module.eval()
    x = torch.randn(30, steps, input_dim)
    with torch.inference_mode():
        torch.testing.assert_close(hybrid_forward(module, x), module(x), rtol=1e-5, atol=1e-6)
    expected_probability = torch.softmax(module(x), 1)[:, 1].detach().double().numpy()
    np.testing.assert_allclose(predict_failure(module, x), expected_probability, atol=1e-6)


def test_the_trainer_and_evaluation_use_the_rows_forward_for_the_hybrid_only() -> None:
    hybrid = OptimizedHybridModel(10, 2)
    assert fast_hybrid_supported(hybrid)
    step = training_step(hybrid)
    assert isinstance(step, FastPathStep) and isinstance(step.fast, AutogradStep)
    assert step.fast.forward is not hybrid and inference_forward(hybrid) is not hybrid
    # The model's sequence_length does not decide: each input's length does (see
    # test_fast_path_properties.py)
    assert fast_hybrid_supported(OptimizedHybridModel(10, 2, sequence_length=101))
    assert isinstance(training_step(hybrid.double()), AutogradStep)  # float32 only

    class Custom(OptimizedHybridModel):
        pass

    custom = Custom(10, 2)
    assert not fast_hybrid_supported(custom) and training_step(custom).forward is custom  # type: ignore[attr-defined]
    wider = OptimizedHybridModel(10, 2)
    wider.conv1 = nn.Conv1d(10, 32, kernel_size=5, padding=2)
    assert not fast_hybrid_supported(wider) and inference_forward(wider) is wider
    recurrent = OptimizedHybridModel(10, 2)
    recurrent.lstm = nn.GRU(64, 128, batch_first=True)  # type: ignore[assignment]
    assert not fast_hybrid_supported(recurrent)


def test_hybrid_site_training_is_reproducible_and_learns() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(320, 10, 10, generator=generator)
    y = (x[:, -1, 0] + x[:, -1, 3] > 1.0).long()
    train = SplitTensors(x, y, np.zeros(320, dtype=np.int64))
    spec = ModelSpec("hybrid", 10, 2, {"sequence_length": 10})
    instructions = FitInstructions(round_num=1, local_epochs=8, seed=3, class_weights=(0.6, 2.5))
    start = spec.build(seed=2).get_parameters()

    def fit() -> dict[str, torch.Tensor]:
        trainer = SiteTrainer(spec, training_config("hybrid"))
        return dict(trainer.fit(start, train, "site", instructions).state)

    first, second = fit(), fit()
    assert all(torch.equal(first[key], second[key]) for key in first)
    before, after = accuracy_with(spec, start, x, y), accuracy_with(spec, first, x, y)
    assert after > 0.75 > before, (before, after)
