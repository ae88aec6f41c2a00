"""Tuned settings as frozen definitions, and the defaults every model shares.

Each architecture file defines its :class:`ModelDefaults` once; ``BEST_HYPERPARAMETERS``,
``OPTIMIZED_TRAINING_CONFIG``, ``ModelFactory.get_default_config`` and the model classes'
own keyword defaults all read that one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "COMMON_TRAINING",
    "DEFAULT_INPUT_DIM",
    "DEFAULT_NUM_CLASSES",
    "DEFAULT_SEQUENCE_LENGTH",
    "GENERIC_TRAINING",
    "ModelDefaults",
]

DEFAULT_INPUT_DIM = 10
"""The design document's example: ten sensor features per time step."""
DEFAULT_NUM_CLASSES = 2
"""Binary failure prediction: no failure / failure."""
DEFAULT_SEQUENCE_LENGTH = 10
"""The window length the sequence models were tuned for (design document, LSTM section)."""

COMMON_TRAINING: Mapping[str, Any] = MappingProxyType(
    {
        "optimizer": "Adam",
        "scheduler": "StepLR",
        "step_size": 10,
        "gamma": 0.5,
        "weight_decay": 1e-4,
    }
)
"""Settings every tuned model shares (design document, "Training Best Practices")."""

GENERIC_TRAINING: Mapping[str, Any] = MappingProxyType(
    {"batch_size": 32, "learning_rate": 0.001, **COMMON_TRAINING}
)
"""Used for a model registered without tuned training settings (e.g. a custom model)."""


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list | tuple) else value


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value


@dataclass(frozen=True)
class ModelDefaults:
    """A model's tuned architecture and training settings: the one definition of each value.

    Stored frozen (tuples, read-only mappings) so no caller can change them by accident; the
    ``*_dict`` methods hand out fresh copies with Python lists, which compare equal to the
    design document's dicts.
    """

    hyperparameters: Mapping[str, Any]
    training: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("hyperparameters", "training"):
            frozen = {key: _freeze(value) for key, value in getattr(self, name).items()}
            object.__setattr__(self, name, MappingProxyType(frozen))

    def hyperparameter_dict(self) -> dict[str, Any]:
        """A fresh, mutable copy of the tuned architecture hyperparameters."""
        return {key: _thaw(value) for key, value in self.hyperparameters.items()}

    def training_dict(self) -> dict[str, Any]:
        """A fresh, mutable copy of the tuned training settings."""
        return {key: _thaw(value) for key, value in self.training.items()}


