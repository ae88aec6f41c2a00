"""ModelPerformanceMonitor: the design document's rules on hand-made round histories."""

from __future__ import annotations

import json

import pytest
import torch

from networkfed.models import ModelManager
from networkfed.monitoring import ModelPerformanceMonitor, parameter_norm
from networkfed.monitoring.monitor import describe_issue


def monitor_with(rounds: list[dict]) -> ModelPerformanceMonitor:
    monitor = ModelPerformanceMonitor(ModelManager())
    for round_num, metrics in enumerate(rounds):
        monitor.track_round_performance("global", round_num, metrics)
    return monitor


def healthy_round(round_num: int) -> dict:
    return {"accuracy": 0.6 + 0.05 * round_num, "loss": 1.0 / (round_num + 1),
            "parameter_norm": 10.0 + round_num}


def test_no_tracked_rounds_means_no_data():
    assert monitor_with([]).detect_training_issues("global") == {"status": "no_data"}


def test_an_improving_run_is_healthy():
    monitor = monitor_with([healthy_round(r) for r in range(6)])

    assert monitor.detect_training_issues("global") == {"status": "healthy", "issues": []}


def test_accuracy_that_stops_moving_is_stagnation():
    rounds = [healthy_round(0), healthy_round(1)] + [
        {"accuracy": 0.9 + delta, "loss": 0.3, "parameter_norm": 12.0}
        for delta in (0.0, 0.004, 0.009)
    ]

    report = monitor_with(rounds).detect_training_issues("global")

    assert report == {"status": "issues_detected", "issues": ["accuracy_stagnation"]}


def test_stagnation_needs_three_rounds():
    rounds = [{"accuracy": 0.9, "loss": 0.3, "parameter_norm": 1.0}] * 2

    assert monitor_with(rounds).detect_training_issues("global")["status"] == "healthy"


def test_a_large_loss_in_the_last_five_rounds_is_an_explosion():
    rounds = [healthy_round(r) for r in range(6)]
    rounds[2]["loss"] = 12.5

    report = monitor_with(rounds).detect_training_issues("global")

    assert report["issues"] == ["loss_explosion"]


def test_an_explosion_older_than_five_rounds_is_forgotten():
    rounds = [healthy_round(r) for r in range(7)]
    rounds[1]["loss"] = 50.0

    assert monitor_with(rounds).detect_training_issues("global")["status"] == "healthy"


@pytest.mark.parametrize("loss", [float("nan"), None])
def test_a_missing_or_nan_loss_counts_as_an_explosion(loss):
    rounds = [healthy_round(0), {**healthy_round(1), "loss": loss}]

    assert monitor_with(rounds).detect_training_issues("global")["issues"] == ["loss_explosion"]


def test_a_parameter_norm_that_more_than_doubles_is_instability():
    rounds = [healthy_round(0), {**healthy_round(1), "parameter_norm": 25.0}]

    report = monitor_with(rounds).detect_training_issues("global")

    assert report == {"status": "issues_detected", "issues": ["parameter_instability"]}


def test_all_issues_are_reported_together():
    rounds = [{"accuracy": 0.5, "loss": 20.0, "parameter_norm": n} for n in (1.0, 1.5, 4.0)]

    issues = monitor_with(rounds).detect_training_issues("global")["issues"]

    assert issues == ["accuracy_stagnation", "loss_explosion", "parameter_instability"]


def test_models_are_tracked_separately():
    monitor = monitor_with([{"accuracy": 0.5, "loss": 99.0}])
    monitor.track_round_performance("other", 0, healthy_round(0))

    assert monitor.detect_training_issues("other")["status"] == "healthy"
    assert monitor.detect_training_issues("global")["status"] == "issues_detected"


def test_history_uses_the_documented_defaults():
    monitor = monitor_with([{"accuracy": 0.7}])

    assert monitor.performance_history["global"] == [
        {"round": 0, "accuracy": 0.7, "loss": float("inf"), "convergence_rate": 0.0,
         "parameter_norm": 0.0}
    ]


def test_state_dict_lets_a_resumed_run_continue_its_history():
    rounds = [{"accuracy": 0.8, "loss": 0.4, "parameter_norm": 3.0}] * 3
    interrupted = monitor_with(rounds[:2])
    resumed = ModelPerformanceMonitor(ModelManager())

    resumed.load_state_dict(json.loads(json.dumps(interrupted.state_dict())))
    resumed.track_round_performance("global", 2, rounds[2])

    assert resumed.performance_history == monitor_with(rounds).performance_history
    assert resumed.detect_training_issues("global")["issues"] == ["accuracy_stagnation"]
    with pytest.raises(ValueError, match="performance_history"):
        resumed.load_state_dict({})


def test_state_dict_is_a_copy():
    monitor = monitor_with([healthy_round(0)])

    monitor.state_dict()["performance_history"]["global"].clear()

    assert len(monitor.performance_history["global"]) == 1


def test_parameter_norm_is_the_l2_norm_of_the_float_tensors():
    state = {"w": torch.tensor([3.0, 0.0]), "b": torch.tensor([4.0]), "n": torch.tensor(100)}

    assert parameter_norm(state) == pytest.approx(5.0)
    assert parameter_norm({}) == 0.0


def test_findings_are_described_in_plain_words() -> None:
    assert describe_issue("accuracy_stagnation").startswith(
        "accuracy_stagnation: accuracy changed by less than 0.01 over the last three rounds")
    assert "F1 and PR-AUC" in describe_issue("accuracy_stagnation")
    assert describe_issue("something_new") == "something_new"
