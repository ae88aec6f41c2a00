"""Failure-prediction models: three tuned architectures, a registry, factory and manager.

Importing this package registers the built-in models (``cnn``, ``lstm``, ``hybrid``).
"""

from networkfed.models.config import split_overrides, training_config
from networkfed.models.factory import ModelFactory
from networkfed.models.manager import ModelManager
from networkfed.models.optimized_models import (
    BEST_HYPERPARAMETERS,
    OPTIMIZED_TRAINING_CONFIG,
    OptimizedCNNModel,
    OptimizedHybridModel,
    OptimizedLSTMModel,
    create_optimized_model,
)
from networkfed.models.wrapper import ModelWrapper

__all__ = [
    "BEST_HYPERPARAMETERS",
    "OPTIMIZED_TRAINING_CONFIG",
    "ModelFactory",
    "ModelManager",
    "ModelWrapper",
    "OptimizedCNNModel",
    "OptimizedHybridModel",
    "OptimizedLSTMModel",
    "create_optimized_model",
    "split_overrides",
    "training_config",
]
