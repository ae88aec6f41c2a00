"""Tiny seeded federations for the engine, run-folder and ``simulate`` tests."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch

from networkfed.data import load_federated_data
from networkfed.data.config import DataConfig
from networkfed.data.types import FederatedData
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import RunConfig
from networkfed.federated.local_training import ModelSpec
from networkfed.federated.results import RoundResult

TINY_ROWS = 400
"""Rows per synthetic site: about 200 training windows each, a round in well under a second."""


@functools.lru_cache(maxsize=4)
def tiny_data(seed: int = 42, rows_per_site: int = TINY_ROWS) -> FederatedData:
    """The three example sites, small (cached: tests only read it)."""
    return load_federated_data(DataConfig(rows_per_site=rows_per_site), seed)


def tiny_config(**changes: Any) -> RunConfig:
    """Two rounds of one local epoch on the tiny sites, in this process."""
    settings: dict[str, Any] = {
        "data": DataConfig(rows_per_site=TINY_ROWS), "rounds": 2, "local_epochs": 1,
        "workers": 0,
    }
    settings.update(changes)
    return RunConfig(**settings)


def metric_values(summary: dict[str, Any]) -> dict[str, Any]:
    """The metrics of a summary, without what legitimately differs between runs (time)."""
    return {k: v for k, v in summary.items() if k != "elapsed_seconds"}


def accuracy_with(
    spec: ModelSpec, state: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> float:
    """Accuracy of ``spec``'s model holding ``state`` on ``(x, y)``, in eval mode."""
    model = spec.build(seed=0).model
    model.load_state_dict(dict(state))
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


class StopAfter(Callback):
    """Ctrl-C in ``after_round`` of ``round_num``: that round's metrics are written, its
    checkpoint is not (checkpoints come last), as when a user interrupts a run."""

    def __init__(self, round_num: int) -> None:
        self.round_num = round_num

    def after_round(self, result: RoundResult, notes: Any) -> None:
        if result.round_num == self.round_num:
            raise KeyboardInterrupt
