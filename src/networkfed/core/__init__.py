"""Vocabulary shared by every layer: model types, the model interface and the error hierarchy."""

from networkfed.core.enums import ModelType
from networkfed.core.errors import (
    CheckpointError,
    ConfigError,
    DataValidationError,
    InvalidParametersError,
    NetworkFedError,
    TrainingError,
    UnknownModelError,
    UnknownRoundError,
)
from networkfed.core.interfaces import ModelInterface

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataValidationError",
    "InvalidParametersError",
    "ModelInterface",
    "ModelType",
    "NetworkFedError",
    "TrainingError",
    "UnknownModelError",
    "UnknownRoundError",
]
