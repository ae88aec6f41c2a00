"""The tuned models, their factory function and read-only views of their tuned settings.

``BEST_HYPERPARAMETERS[key]`` and ``OPTIMIZED_TRAINING_CONFIG[key]`` (``key`` in ``"cnn"``,
``"lstm"``, ``"hybrid"``, or a ``ModelType``) return fresh dicts read from each model's one
frozen definition (``CNN_DEFAULTS`` ...), so changing a returned dict changes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from torch import nn

from networkfed.models import _registry
from networkfed.models._registry import ModelKey
from networkfed.models.defaults import ModelDefaults

# Importing registers the models; this order is the order they are listed in.
# isort: off
from networkfed.models.cnn import CNN_DEFAULTS, OptimizedCNNModel
from networkfed.models.lstm import LSTM_DEFAULTS, OptimizedLSTMModel
from networkfed.models.hybrid import HYBRID_DEFAULTS, OptimizedHybridModel

# isort: on

__all__ = [
    "BEST_HYPERPARAMETERS",
    "CNN_DEFAULTS",
    "HYBRID_DEFAULTS",
    "LSTM_DEFAULTS",
    "OPTIMIZED_TRAINING_CONFIG",
    "OptimizedCNNModel",
    "OptimizedHybridModel",
    "OptimizedLSTMModel",
    "create_optimized_model",
]


class _DefaultsView(Mapping[str, dict[str, Any]]):
    """A live, read-only mapping from model name to one part of its tuned defaults."""

    def __init__(self, part: Callable[[ModelDefaults], dict[str, Any]]) -> None:
        self._part = part

    def _tuned(self) -> dict[str, ModelDefaults]:
        entries = (_registry.get_model_entry(key) for key in _registry.list_models())
        return {entry.name: entry.defaults for entry in entries if entry.defaults is not None}

    def __getitem__(self, key: object) -> dict[str, Any]:
        tuned = self._tuned()
        name = getattr(key, "value", key)
        if not isinstance(name, str) or name.strip().lower() not in tuned:
            raise KeyError(f"no tuned settings for {key!r}; valid keys are {sorted(tuned)}")
        return self._part(tuned[name.strip().lower()])

    def __iter__(self) -> Iterator[str]:
        return iter(self._tuned())

    def __len__(self) -> int:
        return len(self._tuned())

    def __repr__(self) -> str:
        return repr(dict(self))


BEST_HYPERPARAMETERS: Mapping[str, dict[str, Any]] = _DefaultsView(
    ModelDefaults.hyperparameter_dict
)
"""Tuned architecture hyperparameters by model, e.g. ``["cnn"]["fc_hidden"] == [256, 128]``."""

OPTIMIZED_TRAINING_CONFIG: Mapping[str, dict[str, Any]] = _DefaultsView(
    ModelDefaults.training_dict
)
"""Tuned training settings by model (batch size, learning rate, optimizer, scheduler, ...)."""


def create_optimized_model(
    model_type: ModelKey,
    input_dim: int,
    num_classes: int,
    sequence_length: int | None = None,
    *,
    seed: int | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build the bare tuned module (no wrapper); ``overrides`` go on top of its defaults.

    ``sequence_length=None`` keeps the model's own default (one step for the CNN, ten for
    the sequence models).
    """
    if sequence_length is not None:
        overrides["sequence_length"] = sequence_length
    return _registry.get_model(
        model_type, input_dim=input_dim, num_classes=num_classes, seed=seed, **overrides
    )
