"""Sample-level DP-SGD: Opacus' twin of the model, per-example clipping, per-site ε, resume."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from opacus.accountants import RDPAccountant
from torch import nn

from engine_helpers import metric_values
from networkfed.api import run_federated
from networkfed.core.errors import ConfigError
from networkfed.data import DataConfig
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import RunConfig
from networkfed.federated.local_training import ModelSpec, batch_indices
from networkfed.federated.results import RoundResult
from networkfed.models import ModelManager, training_config
from networkfed.privacy.dp_sgd import DPSGDTrainer, dp_sgd_changes, steps_per_epoch

SPEC = ModelSpec("lstm", 6, 2, {"sequence_length": 5})


def test_lstm_trains_as_dplstm_with_the_same_weights_and_function() -> None:
    # Prepare
    model = SPEC.build(seed=1).model.eval()
    trainer = DPSGDTrainer(SPEC.build(seed=2).model)
    x = torch.randn(8, 5, 6, generator=torch.Generator().manual_seed(0))

    # Execute: copy the weights into the twin (as training does), no step
    trainer._copy(model.named_parameters(), trainer._params)

    # Assert
    assert dp_sgd_changes(model) == (["LSTM -> DPLSTM"], None)
    torch.testing.assert_close(trainer.twin.eval()(x), model(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("model", ["cnn", "hybrid"])
def test_batchnorm_models_are_refused(model: str) -> None:
    spec = ModelSpec(model, 6, 2, {"sequence_length": 5})
    changes, problem = dp_sgd_changes(spec.build(seed=0).model)
    assert any("GroupNorm" in change for change in changes)
    assert problem is not None and "BatchNorm" in problem


def test_one_step_is_the_mean_of_clipped_per_example_gradients() -> None:
    # Prepare: no noise, plain SGD, a clip below most examples' gradient norms, no dropout
    model = _without_dropout(SPEC.build(seed=3).model)
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 5, 6, generator=generator), torch.tensor([0, 1, 0, 0, 1, 0])
    clip, lr = 0.05, 0.1
    expected = {k: p.detach().clone() for k, p in model.named_parameters()}
    clipped_sum = {k: torch.zeros_like(p) for k, p in expected.items()}
    for i in range(len(y)):  # each example's gradient by hand, clipped to `clip`
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        for key, grad in grads.items():
            clipped_sum[key] += grad * min(1.0, clip / norm)
    for key in expected:
        expected[key] -= lr * clipped_sum[key] / len(y)

    # Execute: one DP-SGD step
    trainer = DPSGDTrainer(_without_dropout(SPEC.build(seed=0).model))
    trainer.train(model, lambda: [(x, y)], epochs=1, class_weights=None,
                  optimizer=lambda params: torch.optim.SGD(params, lr=lr),
                  noise_multiplier=0.0, clip=clip, batch_size=len(y),
                  generator=torch.Generator().manual_seed(0))

    # Assert
    for key, param in model.named_parameters():
        torch.testing.assert_close(param.detach(), expected[key], rtol=1e-5, atol=1e-7)


def _without_dropout(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model


@given(n=st.integers(1, 3000), batch=st.integers(1, 300))
def test_steps_per_epoch_counts_local_trainings_batches(n: int, batch: int) -> None:
    batches = batch_indices(n, batch, torch.Generator().manual_seed(0))
    assert steps_per_epoch(n, batch) == len(batches)


# --- whole runs ---------------------------------------------------------------------------

def _config(**changes: Any) -> RunConfig:
    base = RunConfig(data=DataConfig(rows_per_site=200), model="lstm", rounds=2, local_epochs=1,
                     seed=4, workers=0, dp="sample", dp_clip=1.0, dp_noise=1.1)
    return base.model_copy(update=changes)


class StopAt(Callback):
    """Ctrl-C in ``after_round`` of one round (as tests/monitoring's resume test does)."""

    def __init__(self, round_num: int) -> None:
        self.round_num = round_num

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        if result.round_num == self.round_num:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_per_site_epsilon_composes_every_step_and_survives_resume(tmp_path: Path) -> None:
    # Prepare / Execute: an uninterrupted run, and one stopped in round 2 then resumed
    whole = run_federated(_config(), run_dir=tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run_federated(_config(), run_dir=tmp_path / "cut", progress=StopAt(2))
    resumed = run_federated(_config(), run_dir=tmp_path / "cut", resume=True)

    # Assert: each site's ε is Opacus' for its own steps (2 rounds x its batches at its rate)
    privacy, batch = whole.privacy, int(training_config("lstm")["batch_size"])
    sizes = _train_sizes(tmp_path / "whole")
    assert set(privacy["per_site_epsilon"]) == set(sizes)
    for site, n in sizes.items():
        accountant = RDPAccountant()
        for _ in range(2 * steps_per_epoch(n, batch)):
            accountant.step(noise_multiplier=1.1, sample_rate=batch / n)
        assert privacy["per_site_epsilon"][site] == pytest.approx(
            accountant.get_epsilon(delta=1e-5), rel=1e-9)
    assert privacy["dp_sgd_changes"] == ["LSTM -> DPLSTM"]
    assert resumed.privacy == privacy
    cut = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert metric_values(cut) == metric_values(
        json.loads((tmp_path / "whole" / "summary.json").read_text()))
    # the checkpoints hold the federation's own LSTM: predict / export rebuild it
    model, _ = ModelManager(tmp_path / "whole" / "checkpoints").get_snapshot("global", 2)
    assert any(key.startswith("lstm.weight_ih_l0") for key in model)


def _train_sizes(run_dir: Path) -> dict[str, int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["site"]: r["num_examples"] for r in rows if r["split"] == "train"}


def test_sample_dp_refuses_fedprox_and_the_cnn(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="proximal"):
        run_federated(_config(strategy="fedprox"), run_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match="GroupNorm"):
        run_federated(_config(model="cnn"), run_dir=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
