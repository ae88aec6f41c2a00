"""The in-process engine: rounds, reproducibility, rejected updates, drop-outs, baselines."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from engine_helpers import metric_values, tiny_config, tiny_data
from networkfed.api import model_settings, run_federated
from networkfed.core.enums import ModelType
from networkfed.core.errors import ConfigError, TrainingError
from networkfed.data.types import SiteData, SplitTensors
from networkfed.federated.callbacks import Callback, EarlyStopping
from networkfed.federated.config import RunConfig
from networkfed.federated.engine import InProcessEngine
from networkfed.federated.execution import SequentialRunner, SiteExecutor, Task
from networkfed.federated.local_training import (
    FitInstructions,
    ModelSpec,
    SiteTrainer,
    class_weights_from_counts,
    label_counts,
)
from networkfed.federated.results import RoundResult
from networkfed.federated.sampling import sample_sites, simulate_dropouts
from networkfed.federated.strategies import build_strategy
from networkfed.federated.types import SiteUpdate
from networkfed.models import ModelFactory

BROKEN_SITE = "chemical_houston"


class CorruptingRunner:
    """Runs tasks normally, then puts a NaN into one site's trained state."""

    def __init__(self, inner: SequentialRunner) -> None:
        self.inner = inner

    def run(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[Any], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list:
        results = self.inner.run(tasks, on_result, meanwhile)
        return [self._corrupt(r) if isinstance(r, SiteUpdate) else r for r in results]

    @staticmethod
    def _corrupt(update: SiteUpdate) -> SiteUpdate:
        if update.site_id != BROKEN_SITE:
            return update
        state = dict(update.state)
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key] = torch.full_like(state[key], math.nan)
        return dataclasses.replace(update, state=state)

    def close(self) -> None:
        self.inner.close()


def _engine(config: RunConfig, *, corrupt: bool = False,
            callbacks: Sequence[Callback] = ()) -> InProcessEngine:
    data = tiny_data()
    spec, training = model_settings(config, data)
    runner: Any = SequentialRunner(SiteExecutor(spec, training, data.sites))
    if corrupt:
        runner = CorruptingRunner(runner)
    return InProcessEngine(config, data, spec.build(seed=config.seed), spec, training,
                           build_strategy(config.strategy), runner, callbacks)


def test_a_run_evaluates_the_initial_model_and_every_round() -> None:
    # Execute
    result = run_federated(tiny_config(), tiny_data())

    # Assert
    assert [entry["round"] for entry in result.history] == [0, 1, 2]
    assert result.rounds_completed == 2
    assert set(result.per_site) == set(tiny_data().site_ids)
    assert result.final["num_examples"] == sum(len(s.test) for s in tiny_data().sites.values())
    assert 0.0 <= result.final["threshold"] <= 1.0
    assert result.last.trained == tuple(tiny_data().site_ids)


def test_same_seed_gives_identical_metrics_and_another_seed_does_not() -> None:
    # Execute
    first = run_federated(tiny_config(seed=5), tiny_data())
    again = run_federated(tiny_config(seed=5), tiny_data())
    other = run_federated(tiny_config(seed=6), tiny_data())

    # Assert
    assert metric_values(first.summary()) == metric_values(again.summary())
    assert first.final["loss"] != other.final["loss"]


@pytest.mark.slow
def test_worker_processes_give_the_same_numbers_as_one_process() -> None:
    # Execute
    alone = run_federated(tiny_config(workers=0), tiny_data())
    spread = run_federated(tiny_config(workers=2), tiny_data())

    # Assert
    assert metric_values(alone.summary()) == metric_values(spread.summary())


def test_a_bad_update_is_rejected_and_the_round_goes_on() -> None:
    # Prepare
    engine = _engine(tiny_config(min_fit_clients=2), corrupt=True)

    # Execute
    result = engine.run()

    # Assert
    assert set(result.last.rejected) == {BROKEN_SITE}
    assert "non-finite" in result.last.rejected[BROKEN_SITE][0]
    assert BROKEN_SITE not in result.last.trained
    assert result.rounds_completed == 2


def test_too_few_valid_updates_fail_and_leave_the_global_model_unchanged() -> None:
    # Prepare
    engine = _engine(tiny_config(min_fit_clients=3), corrupt=True)
    before = engine.model.get_parameters()

    # Execute
    with pytest.raises(TrainingError, match="round 1: only 2 site"):
        engine.run()

    # Assert
    after = engine.model.get_parameters()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_too_many_drop_outs_fail_cleanly() -> None:
    recorder = EventRecorder()
    engine = _engine(tiny_config(site_dropout_rate=0.99), callbacks=[recorder])
    before = engine.model.get_parameters()
    with pytest.raises(TrainingError, match="dropped out"):
        engine.run()
    assert all(torch.equal(before[k], engine.model.get_parameters()[k]) for k in before)
    assert recorder.events == [("after_round", 0)]  # the initial model is on record


class EventRecorder(Callback):
    """Records the callbacks' calls in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_round_begin(self, round_num: int, site_ids: Sequence[str]) -> None:
        self.events.append(("on_round_begin", round_num))

    def on_site_trained(self, round_num: int, update: SiteUpdate) -> None:
        self.events.append(("on_site_trained", round_num))

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        self.events.append(("after_round", result.round_num))


def test_callbacks_see_the_rounds_in_order_though_round_zero_is_scored_during_round_one(
) -> None:
    """Round 0 is scored while round 1 trains (``meanwhile``); the callbacks still see
    round 0's report, then round 1's start, then its sites."""
    recorder = EventRecorder()
    result = _engine(tiny_config(), callbacks=[recorder]).run()
    sites = len(tiny_data().site_ids)
    expected = [("after_round", 0)]
    for round_num in (1, 2):
        expected += [("on_round_begin", round_num)]
        expected += [("on_site_trained", round_num)] * sites + [("after_round", round_num)]
    assert recorder.events == expected
    assert [entry["round"] for entry in result.history] == [0, 1, 2]


def test_min_fit_clients_above_the_number_of_sites_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="min_fit_clients"):
        run_federated(tiny_config(min_fit_clients=4), tiny_data())


def _fits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, SplitTensors, FitInstructions]]:
    """Every ``SiteTrainer.fit`` call from now on: who trained, on what, with which round and
    epochs."""
    calls: list[tuple[str, SplitTensors, FitInstructions]] = []
    original = SiteTrainer.fit

    def recording(self: SiteTrainer, state: Any, train: SplitTensors, site_id: str,
                  instructions: FitInstructions) -> SiteUpdate:
        calls.append((site_id, train, instructions))
        return original(self, state, train, site_id, instructions)

    monkeypatch.setattr(SiteTrainer, "fit", recording)
    return calls


def _row_multiset(x: torch.Tensor, y: torch.Tensor) -> list[bytes]:
    """Windows and labels as sorted byte strings: equal lists, equal multisets of rows."""
    rows = torch.cat([x.flatten(1), y[:, None].float()], 1).numpy()
    return sorted(row.tobytes() for row in rows)


def test_baselines_train_centralized_and_local_models(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare
    fits = _fits(monkeypatch)
    config = tiny_config(rounds=2, local_epochs=2, baselines=True)
    sites = tiny_data().sites

    # Execute
    result = run_federated(config, tiny_data())

    # Assert: centralized = every site's training windows, no more, no fewer, trained for
    # the federated run's rounds with its epochs and its learning-rate schedule (round by round)
    federated = [(i.round_num, i.local_epochs) for s, _, i in fits if s in sites]
    central = [(train, i) for s, train, i in fits if s == "centralized"]
    assert [(i.round_num, i.local_epochs) for _, i in central] == sorted(set(federated))
    assert sorted(set(federated)) == [(1, 2), (2, 2)]
    union_x = torch.cat([site.train.x for site in sites.values()])
    union_y = torch.cat([site.train.y for site in sites.values()])
    for train, _ in central:
        assert _row_multiset(train.x, train.y) == _row_multiset(union_x, union_y)
    for site_id, site in sites.items():  # each local baseline: its own site's rows only
        local = [train for s, train, _ in fits if s == f"local/{site_id}"]
        assert len(local) == 2 and all(t is site.train for t in local)
    baselines = result.summary()["baselines"]
    assert set(baselines) == {"centralized", "local", "local_overall"}
    assert set(baselines["local"]) == set(sites)
    assert baselines["centralized"]["num_examples"] == result.final["num_examples"]


@pytest.mark.parametrize("weighting", ["balanced", "sqrt", "none"])
def test_class_weighting_reaches_federated_training_and_baselines(weighting: str) -> None:
    # Prepare
    config = tiny_config(class_weighting=weighting)
    engine = _engine(config)
    counts = [label_counts(site.train.y, 2) for site in engine.data.sites.values()]
    expected = class_weights_from_counts(counts, weighting)  # type: ignore[arg-type]

    # Execute
    federated = engine._instructions(1).class_weights
    centralized = engine._chain("centralized", engine.data.site_ids).class_weights

    # Assert: the pooled data's counts, weighted as configured, in both places
    assert federated == centralized == pytest.approx(expected)


class TinyLogistic(nn.Module):
    """Logits ``(0, x . w)``: a model whose loss gradient is written out by hand below."""

    def __init__(self, input_dim: int, num_classes: int = 2, **_: Any) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(input_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.reshape(x.shape[0], -1) @ self.w
        return torch.stack([torch.zeros_like(z), z], 1)


def _fedprox_by_hand(x: np.ndarray, y: np.ndarray, w0: np.ndarray, weights: tuple[float, float],
                     mu: float, lr: float, steps: int) -> np.ndarray:
    """Full-batch SGD on the class-weighted cross-entropy plus mu/2 ||w - w0||^2, in float64:
    d loss / d w = sum_i c_i (sigmoid(x_i . w) - y_i) x_i / sum_i c_i + mu (w - w0)."""
    c = np.where(y == 1, weights[1], weights[0])
    w = w0.copy()
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        w = w - lr * ((c * (p - y)) @ x / c.sum() + mu * (w - w0))
    return w


def test_fedprox_pulls_each_site_towards_the_global_model_as_computed_by_hand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prepare: the engine's FedProx sends its mu to every site ...
    fits = _fits(monkeypatch)
    run_federated(tiny_config(strategy="fedprox", strategy_options={"proximal_mu": 0.1}),
                  tiny_data())
    assert fits and {i.proximal_mu for _, _, i in fits} == {0.1}
    # ... and a site's training (the engine's executor) applies it: a tiny logistic model,
    # one full batch per epoch, SGD, five epochs
    ModelFactory.register_model(ModelType.CUSTOM, TinyLogistic)
    try:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(40, 3, generator=generator)
        y = (x[:, 0] > 0.3).long()
        split = SplitTensors(x, y, np.zeros(40, np.int64))
        site = SiteData("s", split, split, split)
        training = {"batch_size": 64, "learning_rate": 0.5, "optimizer": "SGD",
                    "weight_decay": 0.0, "scheduler": "StepLR", "step_size": 10, "gamma": 0.5}
        executor = SiteExecutor(ModelSpec("custom", 3, 2), training, {"s": site})
        w0 = np.array([0.8, -0.5, 0.3])
        global_state = {"w": torch.tensor(w0, dtype=torch.float32)}
        trained = {}
        for mu in (0.0, 2.0):
            instructions = FitInstructions(1, 5, (0.7, 1.8), seed=1, proximal_mu=mu)
            update = executor.execute(Task("train", (global_state, "s", instructions), 1.0))
            trained[mu] = update.state["w"].double().numpy()
    finally:
        ModelFactory.unregister_model(ModelType.CUSTOM)

    # Assert: both runs as the hand computation, and the term's effect is there
    for mu, w in trained.items():
        expected = _fedprox_by_hand(x.double().numpy(), y.numpy().astype(float), w0,
                                    (0.7, 1.8), mu, 0.5, 5)
        np.testing.assert_allclose(w, expected, rtol=0, atol=1e-5)
    assert np.linalg.norm(trained[2.0] - w0) < np.linalg.norm(trained[0.0] - w0) - 0.05


def test_early_stopping_ends_the_run_before_the_last_round() -> None:
    # Prepare: a patience of one round and an impossible improvement threshold
    stopper = EarlyStopping(metric="loss", patience=1, min_delta=1e9)

    # Execute
    result = run_federated(tiny_config(rounds=3), tiny_data(), callbacks=[stopper])

    # Assert
    assert result.rounds_completed == 1
    assert result.stopped_early


def test_sampling_takes_the_larger_of_fraction_and_minimum() -> None:
    sites = [f"s{i}" for i in range(10)]
    assert len(sample_sites(sites, 0.5, 3, seed=1, round_num=1)) == 5
    assert len(sample_sites(sites, 0.1, 3, seed=1, round_num=1)) == 3
    assert sample_sites(sites, 0.5, 3, 1, 2) == sample_sites(sites, 0.5, 3, 1, 2)
    assert sample_sites(sites, 0.5, 3, 1, 2) != sample_sites(sites, 0.5, 3, 1, 3)


def test_drop_outs_follow_the_rate() -> None:
    sites = [f"s{i}" for i in range(1000)]
    online, dropped = simulate_dropouts(sites, 0.2, seed=1, round_num=1)
    assert len(online) + len(dropped) == 1000
    assert 150 < len(dropped) < 250
