"""FedAdam, FedYogi, FedAdagrad and FedAvgM over two rounds, against hand-computed formulas.

Round 1 starts from x0 = [1, 2] and the sites average to [1.5, 1.0] (delta [0.5, -1.0]);
round 2 starts from the round-1 result and the sites average to [2.0, 0.0].
"""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load, save

from networkfed.core.errors import CheckpointError
from networkfed.federated.strategies import Strategy, build_strategy
from networkfed.federated.types import SiteUpdate

COUNTER = "bn.num_batches_tracked"
X0 = [1.0, 2.0]
AVG1 = [1.5, 1.0]
AVG2 = [2.0, 0.0]
TAU = 1e-3


def state(w: list[float], count: int = 10) -> dict[str, torch.Tensor]:
    return {"w": torch.tensor(w, dtype=torch.float32), COUNTER: torch.tensor(count)}


def round_updates(average: list[float]) -> list[SiteUpdate]:
    """Two sites (n = 1 and 3) whose weighted mean is ``average``; counters average to 12."""
    low = [a - 0.3 for a in average]
    high = [a + 0.1 for a in average]
    return [SiteUpdate("b", state(low, 9), 1), SiteUpdate("a", state(high, 13), 3)]


def run_two_rounds(strategy: Strategy) -> tuple[dict, dict]:
    first = strategy.aggregate_fit(1, state(X0), round_updates(AVG1))
    second = strategy.aggregate_fit(2, first, round_updates(AVG2))
    return first, second


def adam_expected(beta_1: float, beta_2: float, eta: float, yogi: bool) -> tuple[list, list]:
    """Both rounds worked out coordinate by coordinate from Reddi et al. / Flower's code."""
    x1, x2 = [], []
    for x0, a1, a2 in zip(X0, AVG1, AVG2, strict=True):
        d1 = a1 - x0
        m1, v1 = (1 - beta_1) * d1, (1 - beta_2) * d1**2  # from m0 = v0 = 0 (Yogi too)
        eta1 = eta * math.sqrt(1 - beta_2**2) / (1 - beta_1**2) if not yogi else eta
        x1.append(x0 + eta1 * m1 / (math.sqrt(v1) + TAU))
        d2 = a2 - x1[-1]
        m2 = beta_1 * m1 + (1 - beta_1) * d2
        if yogi:
            v2 = v1 - (1 - beta_2) * d2**2 * math.copysign(1.0, v1 - d2**2)
            eta2 = eta
        else:
            v2 = beta_2 * v1 + (1 - beta_2) * d2**2
            eta2 = eta * math.sqrt(1 - beta_2**3) / (1 - beta_1**3)
        x2.append(x1[-1] + eta2 * m2 / (math.sqrt(v2) + TAU))
    return x1, x2


def adagrad_expected(eta: float) -> tuple[list, list]:
    x1, x2 = [], []
    for x0, a1, a2 in zip(X0, AVG1, AVG2, strict=True):
        d1 = a1 - x0
        x1.append(x0 + eta * d1 / (math.sqrt(d1**2) + TAU))
        d2 = a2 - x1[-1]
        x2.append(x1[-1] + eta * d2 / (math.sqrt(d1**2 + d2**2) + TAU))
    return x1, x2


def avgm_expected(lr: float, momentum: float) -> tuple[list, list]:
    x1, x2 = [], []
    for x0, a1, a2 in zip(X0, AVG1, AVG2, strict=True):
        b1 = x0 - a1  # first round: the buffer is the pseudo-gradient itself
        x1.append(x0 - lr * b1)
        b2 = momentum * b1 + (x1[-1] - a2)
        x2.append(x1[-1] - lr * b2)
    return x1, x2


CASES = {
    "fedadam": ({"eta": 0.1, "beta_1": 0.9, "beta_2": 0.99}, adam_expected(0.9, 0.99, 0.1, False)),
    "fedyogi": ({"eta": 0.05, "beta_1": 0.8, "beta_2": 0.9}, adam_expected(0.8, 0.9, 0.05, True)),
    "fedadagrad": ({"eta": 0.2}, adagrad_expected(0.2)),
    "fedavgm": (
        {"server_learning_rate": 0.5, "server_momentum": 0.9},
        avgm_expected(0.5, 0.9),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_rounds_match_hand_computation(name: str) -> None:
    # Prepare
    options, (expected_1, expected_2) = CASES[name]
    # Execute
    first, second = run_two_rounds(build_strategy(name, **options))
    # Assert
    assert torch.allclose(first["w"], torch.tensor(expected_1), atol=1e-6, rtol=0)
    assert torch.allclose(second["w"], torch.tensor(expected_2), atol=1e-6, rtol=0)
    assert first["w"].dtype == torch.float32
    assert second[COUNTER].dtype == torch.int64
    assert second[COUNTER].item() == 12  # integer buffers take the FedAvg value


@pytest.mark.parametrize("name", sorted(CASES))
def test_resume_from_state_dict_matches_uninterrupted_run(name: str) -> None:
    # Prepare: an uninterrupted run, and a run stopped after round 1
    options = CASES[name][0]
    _, uninterrupted = run_two_rounds(build_strategy(name, **options))
    stopped = build_strategy(name, **options)
    first = stopped.aggregate_fit(1, state(X0), round_updates(AVG1))
    saved = save(stopped.state_dict())  # the state must survive a safetensors file
    # Execute
    resumed = build_strategy(name, **options)
    resumed.load_state_dict(load(saved))
    second = resumed.aggregate_fit(2, first, round_updates(AVG2))
    # Assert: identical, and different from a restart that forgot the state
    fresh = build_strategy(name, **options).aggregate_fit(2, first, round_updates(AVG2))
    assert torch.equal(second["w"], uninterrupted["w"])
    assert not torch.equal(fresh["w"], uninterrupted["w"])


def test_fedavgm_defaults_are_exactly_fedavg() -> None:
    # Execute
    _, momentum = run_two_rounds(build_strategy("fedavgm"))
    _, plain = run_two_rounds(build_strategy("fedavg"))
    # Assert
    assert torch.equal(momentum["w"], plain["w"])
    assert build_strategy("fedavgm").state_dict() == {}


@pytest.mark.parametrize("name", ["fedadam", "fedavgm", "fedavg"])
def test_load_state_dict_rejects_foreign_keys(name: str) -> None:
    with pytest.raises(CheckpointError, match="strategy state"):
        build_strategy(name).load_state_dict({"bogus": torch.zeros(1)})


@pytest.mark.parametrize("name", sorted(CASES))
def test_batchnorm_running_statistics_take_the_plain_average(name: str) -> None:
    # Prepare: global running variance 1.0; sites report 2.0 (n=1) and 4.0 (n=3) -> FedAvg 3.5
    options, _ = CASES[name]
    strategy = build_strategy(name, **options)
    global_state = {**state(X0), "bn.running_var": torch.tensor([1.0])}
    updates = [
        SiteUpdate("a", {**state([1.6, 1.1], 13), "bn.running_var": torch.tensor([4.0])}, 3),
        SiteUpdate("b", {**state([1.2, 0.7], 9), "bn.running_var": torch.tensor([2.0])}, 1),
    ]

    # Execute
    aggregated = strategy.aggregate_fit(1, global_state, updates)

    # Assert: the weights moved by the server optimiser, the running statistic did not
    assert aggregated["bn.running_var"].item() == pytest.approx(3.5)
    assert "m_t/bn.running_var" not in strategy.state_dict()
    assert "momentum/bn.running_var" not in strategy.state_dict()
