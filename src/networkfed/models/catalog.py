"""A summary of every registered model: what ``networkfed models`` shows, the Models guide lists."""

from __future__ import annotations

from typing import Any

from networkfed.models import _checks, _registry
from networkfed.models.config import training_config
from networkfed.models.defaults import DEFAULT_INPUT_DIM, DEFAULT_NUM_CLASSES
from networkfed.models.factory import ModelFactory

__all__ = ["describe_models"]


def describe_models(
    input_dim: int = DEFAULT_INPUT_DIM,
    num_classes: int = DEFAULT_NUM_CLASSES,
    sequence_length: int | None = None,
) -> list[dict[str, Any]]:
    """One entry per registered model, in registration order.

    Each entry holds the model's name and class, its default configuration, its training
    configuration and its trainable parameter count when built for ``input_dim`` features,
    ``num_classes`` classes and windows of ``sequence_length`` steps (``None``: each model's
    own default; 1 means single rows). Models are built from a fixed seed, so counting never
    disturbs anyone's random state.
    """
    _checks.optional_positive_int("sequence_length", sequence_length)
    described = []
    for key in ModelFactory.list_available_models():
        config = ModelFactory.get_default_config(key)
        config.update(input_dim=input_dim, num_classes=num_classes)
        overrides = {} if sequence_length is None else {"sequence_length": sequence_length}
        shape = {k: config.pop(k) for k in ("input_dim", "num_classes")}
        wrapper = ModelFactory.create_model(key, **shape, seed=0, **config, **overrides)
        entry = _registry.get_model_entry(key)
        described.append(
            {
                "model": entry.name,
                "class": type(wrapper.model).__name__,
                "parameters": wrapper.num_parameters(),
                "sequence_length": getattr(wrapper.model, "sequence_length", None) or 1,
                "default_config": {**shape, **config},
                "training_config": training_config(key),
            }
        )
    return described
