"""A run's window length: the model's own default unless the user gives one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from networkfed.core.enums import ModelType
from networkfed.data.config import DataConfig
from networkfed.federated.config import RunConfig, with_model_window
from networkfed.models import ModelFactory
from networkfed.tuning.study import StudySettings


@pytest.mark.parametrize(("model", "window"), [("cnn", 1), ("lstm", 10), ("hybrid", 10)])
def test_an_unset_window_is_the_models_default(model: str, window: int) -> None:
    assert RunConfig(model=model).data.sequence_length == window
    assert RunConfig.model_validate({"model": model, "data": {}}).data.sequence_length == window
    assert StudySettings(model=model).data.sequence_length == window


def test_a_given_window_is_kept_and_the_resolved_one_round_trips() -> None:
    assert RunConfig(data=DataConfig(sequence_length=10)).data.sequence_length == 10
    assert RunConfig(model="lstm", data=DataConfig(sequence_length=1)).data.sequence_length == 1
    resolved = RunConfig()
    again = RunConfig.model_validate(resolved.model_dump())
    assert again.data.sequence_length == 1 and again == resolved
    # A data-only use (no model) keeps the data layer's own default.
    assert DataConfig().sequence_length == 10


class _RowModel(nn.Module):
    def __init__(self, input_dim: int, num_classes: int, sequence_length: int | None = None):
        super().__init__()
        self.head = nn.Linear(input_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.reshape(x.shape[0], -1, x.shape[-1])[:, -1])


class _AnyModel(_RowModel):
    def __init__(self, input_dim: int, num_classes: int) -> None:
        super().__init__(input_dim, num_classes)


@pytest.mark.parametrize(("builder", "window"), [(_RowModel, 1), (_AnyModel, 10)])
def test_a_registered_models_signature_gives_its_window(builder: type, window: int) -> None:
    ModelFactory.register_model(ModelType.CUSTOM, builder)
    try:
        assert with_model_window(DataConfig(), ModelType.CUSTOM).sequence_length == window
    finally:
        ModelFactory.unregister_model(ModelType.CUSTOM)
    # Not registered (e.g. in another process): left to the model builder to report.
    assert with_model_window(DataConfig(), ModelType.CUSTOM).sequence_length == 10


def test_tuned_values_for_another_model_bring_that_models_window() -> None:
    from networkfed.tuning import apply_hparams

    tuned = {"model": "lstm", "model_overrides": {}, "training_overrides": {}, "local_epochs": 2}
    made_for_cnn = RunConfig(rounds=4, data=DataConfig(rows_per_site=900))
    assert made_for_cnn.data.sequence_length == 1
    applied = apply_hparams(made_for_cnn, tuned)
    assert (applied.model, applied.data.sequence_length) == (ModelType.LSTM, 10)
    assert (applied.rounds, applied.data.rows_per_site, applied.local_epochs) == (4, 900, 2)
    chosen = apply_hparams(RunConfig(data=DataConfig(sequence_length=3)), tuned)
    assert chosen.data.sequence_length == 3  # the user's own choice stays
