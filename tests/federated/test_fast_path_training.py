"""Many steps and whole runs: the fast paths end where plain autograd ends.

The single-step properties (test_fast_path_properties.py) bound one step's difference; here
it has to stay small through Adam, StepLR, clipping and FedProx over dozens of steps, and a
short federated run has to report the same metrics to 3 decimals. The autograd side draws the
same dropout masks (fast_path_reference.py), so only the arithmetic differs.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from engine_helpers import metric_values
from fast_path_reference import RowsOrderDropout, reference_step
from networkfed.api import run_federated
from networkfed.data import DataConfig, load_federated_data
from networkfed.data.types import FederatedData, SplitTensors
from networkfed.federated.config import RunConfig
from networkfed.federated.fast_cnn import CNNTrainingStep
from networkfed.federated.fast_hybrid import hybrid_forward
from networkfed.federated.local_training import FitInstructions, ModelSpec, SiteTrainer
from networkfed.federated.training_step import AutogradStep, FastPathStep
from networkfed.models import training_config
from networkfed.models.hybrid import OptimizedHybridModel

STEPS_TOLERANCE = {"float64": 1e-8, "float32": 5e-2}
"""Largest difference allowed between the two runs' final parameters, relative to how far
each parameter travelled (Euclidean norms). float64 shows the arithmetic: any error in a
step adds up over the steps (the max-pooling tie error fixed in fast_cnn: 15 % of a gradient
in one step). float32 shows how far two float32 computations of the same training drift
apart: each step's difference is 1e-6 of a gradient (test_fast_path_properties.py), but
Adam divides every update by its running RMS, so a rounding difference in a near-zero
gradient becomes a step of its own; measured after 30 steps: up to 1.3 % (the CNN's first
convolution on 266-value windows), 3e-5 for most parameters."""


def _plain_autograd(model: nn.Module) -> object:
    """The trainer's step as plain autograd through the module, with the fast path's masks."""
    if isinstance(model, OptimizedHybridModel):
        model.dropout = RowsOrderDropout(model.dropout.p)
    return reference_step(model)


def _windows(steps: int, features: int, n: int = 140) -> SplitTensors:
    generator = torch.Generator().manual_seed(steps)
    x = torch.randn(n, steps, features, generator=generator)
    x[:, :, 2] = 0.5  # a constant sensor: ties in max-pooling on every window
    y = (x[:, -1, 0] + x[:, -1, 3] > 1.0).long()
    return SplitTensors(x, y, np.zeros(n, dtype=np.int64))


def _in_float64(trainer: SiteTrainer) -> None:
    """The trainer's model in float64, with its fast path itself (the dispatch keeps float64
    on autograd)."""
    model = trainer.wrapper.model.double()
    trainer._own_state = model.state_dict()
    if isinstance(model, OptimizedHybridModel):
        trainer._step = AutogradStep(model, functools.partial(hybrid_forward, model))
    else:
        trainer._step = CNNTrainingStep(model)  # type: ignore[arg-type]


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize(
    ("model_type", "steps", "features"),
    [("cnn", None, 10), ("cnn", 19, 14), ("hybrid", 30, 14), ("hybrid", 19, 7)],
)
def test_many_optimizer_steps_end_where_plain_autograd_ends(
    model_type: str, steps: int | None, features: int, precision: str
) -> None:
    # Prepare: batches of 33 (odd; 140 windows leave a remainder of 8), StepLR every round,
    # FedProx, the hybrid's clipping at 1.0; both trainers from the same state and seeds
    train = _windows(steps or 1, features)
    spec = ModelSpec(model_type, features, 2, {"sequence_length": steps})
    training = {**training_config(model_type), "batch_size": 33, "step_size": 1}
    fast, plain = SiteTrainer(spec, training), SiteTrainer(spec, training)
    assert isinstance(fast._step, FastPathStep)
    start = spec.build(seed=5).get_parameters()
    weights: tuple[float, ...] = (0.6, 2.5)
    if precision == "float64":
        _in_float64(fast)
        plain.wrapper.model.double()
        plain._own_state = plain.model.state_dict()
        start = {k: v.double() if v.is_floating_point() else v for k, v in start.items()}
        train = SplitTensors(train.x.double(), train.y, train.machine_ids)
        weights = (0.0, 0.0)  # none: the trainer's class weights are float32
    plain._step = _plain_autograd(plain.model)  # type: ignore[assignment]
    states = {"fast": start, "plain": start}

    # Execute: three rounds of two epochs (5 batches each): 30 steps
    for round_num in (1, 2, 3):
        instructions = FitInstructions(round_num, 2, weights, seed=9, proximal_mu=0.01)
        for name, trainer in (("fast", fast), ("plain", plain)):
            states[name] = trainer.fit(states[name], train, "site", instructions).state

    # Assert: every parameter and running estimate ends within the tolerance of the distance
    # it travelled
    for key, value in states["plain"].items():
        got = states["fast"][key]
        if not value.is_floating_point():
            assert torch.equal(got, value), key
            continue
        travelled = float((value - start[key]).norm())
        difference = float((got - value).norm())
        assert difference <= STEPS_TOLERANCE[precision] * travelled, (key, difference, travelled)


@functools.lru_cache(maxsize=2)
def _sites(sequence_length: int) -> FederatedData:
    return load_federated_data(DataConfig(rows_per_site=300, sequence_length=sequence_length), 42)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "sequence_length", "layers"),
    [("cnn", 1, {}), ("cnn", 1, {"fedbn": True}), ("hybrid", 10, {"fedper": True})],
)
def test_a_federated_run_reports_the_same_metrics_as_plain_autograd(
    model: str, sequence_length: int, layers: dict[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare
    data = _sites(sequence_length)
    config = RunConfig(
        model=model, rounds=2, local_epochs=1, workers=0, seed=3,
        data=DataConfig(rows_per_site=300, sequence_length=sequence_length),
        strategy="fedprox", strategy_options={"proximal_mu": 0.01}, **layers,
    )

    # Execute: the package as it is, then with every fast path replaced by plain autograd
    fast = run_federated(config, data).summary()
    monkeypatch.setattr("networkfed.federated.local_training.training_step", _plain_autograd)
    monkeypatch.setattr("networkfed.federated.evaluation.inference_forward", _module_forward)
    plain = run_federated(config, data).summary()

    # Assert: every reported number to 3 decimals
    fast_values, plain_values = _numbers(metric_values(fast)), _numbers(metric_values(plain))
    assert fast_values.keys() == plain_values.keys() and len(fast_values) > 20
    for key, value in plain_values.items():
        if math.isnan(value):  # e.g. balanced accuracy of a site with one class in its test
            assert math.isnan(fast_values[key]), key
        else:
            assert fast_values[key] == pytest.approx(value, abs=5e-4), key


def _module_forward(model: nn.Module) -> nn.Module:
    return model


def _numbers(tree: object, prefix: str = "") -> dict[str, float]:
    """Every number in a nested summary, keyed by its path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _numbers(sub, f"{prefix}/{key}")
                .items()}
    if isinstance(tree, list | tuple):
        return {k: v for i, sub in enumerate(tree) for k, v in _numbers(sub, f"{prefix}/{i}")
                .items()}
    if isinstance(tree, bool) or not isinstance(tree, int | float | Tensor):
        return {}
    return {prefix: float(tree)}
