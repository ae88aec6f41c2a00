"""``ModelFactory``: the design document's four methods, a thin face over the registry."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from networkfed.models import _registry
from networkfed.models._registry import ModelKey
from networkfed.models.defaults import DEFAULT_INPUT_DIM, DEFAULT_NUM_CLASSES
from networkfed.models.wrapper import ModelWrapper

__all__ = ["ModelFactory"]


class ModelFactory:
    """Create tuned models by type, and extend the set of types.

    Every method accepts a :class:`~networkfed.core.enums.ModelType` member or its string
    (``"lstm"``); an unknown type raises ``ConfigError`` (a ``ValueError``) listing the
    registered ones.
    """

    @staticmethod
    def create_model(
        model_type: ModelKey,
        input_dim: int,
        num_classes: int,
        *,
        seed: int | None = None,
        **overrides: Any,
    ) -> ModelWrapper:
        """Build a model with its tuned hyperparameters, ``overrides`` on top, and wrap it.

        ``seed`` makes the initial weights reproducible without touching global random state.
        """
        entry = _registry.get_model_entry(model_type)
        module = _registry.get_model(
            entry.key, input_dim=input_dim, num_classes=num_classes, seed=seed, **overrides
        )
        config = {"input_dim": input_dim, "num_classes": num_classes, "overrides": overrides}
        return ModelWrapper(module, model_type=entry.key, config={**config, "seed": seed})

    @staticmethod
    def get_default_config(model_type: ModelKey) -> dict[str, Any]:
        """A fresh copy of the model's default configuration (shape plus tuned values).

        ``sequence_length`` is a property of the data, not of these defaults, so it is left
        out; pass it to :meth:`create_model` when windows are longer than one step.
        """
        entry = _registry.get_model_entry(model_type)
        shape = {"input_dim": DEFAULT_INPUT_DIM, "num_classes": DEFAULT_NUM_CLASSES}
        if entry.defaults is not None:
            tuned = entry.defaults.hyperparameter_dict()
        else:
            tuned = _signature_defaults(entry.builder)
        tuned.pop("sequence_length", None)
        return {**shape, **tuned}

    @staticmethod
    def register_model(model_type: ModelKey, model_class: Callable[..., nn.Module]) -> None:
        """Make ``model_class`` buildable as ``model_type`` (e.g. ``ModelType.CUSTOM``).

        It is called as ``model_class(input_dim=..., num_classes=..., **overrides)``.
        Built-in types cannot be replaced; registering a user type again replaces it.
        """
        _registry.register_model(model_type)(model_class)

    @staticmethod
    def unregister_model(model_type: ModelKey) -> None:
        """Forget a user-registered type (tests and notebooks clean up with this)."""
        _registry.unregister_model(model_type)

    @staticmethod
    def list_available_models() -> list[ModelKey]:
        """Registered types in registration order; built-in types as ``ModelType`` members."""
        return _registry.list_models()


def _signature_defaults(builder: Callable[..., nn.Module]) -> dict[str, Any]:
    """A custom model's keyword defaults stand in for tuned values it does not have."""
    parameters = inspect.signature(builder).parameters.values()
    return {
        p.name: list(p.default) if isinstance(p.default, tuple) else p.default
        for p in parameters
        if p.default is not inspect.Parameter.empty
        and p.default is not None
        and p.name not in ("input_dim", "num_classes")
    }
