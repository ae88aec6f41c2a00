"""The model registry: one dict, a decorator and three look-ups (after torchvision's ``_api.py``).

Each architecture file registers its class together with its tuned defaults when
``networkfed.models`` is imported. ``ModelFactory``, ``create_optimized_model``,
``BEST_HYPERPARAMETERS`` and ``OPTIMIZED_TRAINING_CONFIG`` are thin faces over this dict, so a
model registered here is known everywhere at once.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from networkfed.core.enums import ModelType
from networkfed.core.errors import ConfigError
from networkfed.models import _checks
from networkfed.models.defaults import DEFAULT_SEQUENCE_LENGTH, ModelDefaults

logger = logging.getLogger(__name__)

ModelKey = ModelType | str
"""A registry key: a :class:`ModelType` member, or a user's own lower-case name."""

_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")
_SHAPE_ARGS = ("input_dim", "num_classes")


@dataclass(frozen=True)
class RegisteredModel:
    """One registry entry: how to build the model and what it was tuned with."""

    key: ModelKey
    builder: Callable[..., nn.Module]
    defaults: ModelDefaults | None = None
    builtin: bool = False

    @property
    def name(self) -> str:
        """The key as a plain string (``"cnn"``), as used in files and on the command line."""
        return self.key.value if isinstance(self.key, ModelType) else self.key

    def default_window_length(self) -> int:
        """Time steps per input the model is built for by default: its ``sequence_length``
        keyword's default, ``None`` meaning single rows (1; the CNN, built for tabular data in
        the design document); a builder without that keyword reads windows of
        :data:`~networkfed.models.defaults.DEFAULT_SEQUENCE_LENGTH` steps."""
        parameter = inspect.signature(self.builder).parameters.get("sequence_length")
        if parameter is None or parameter.default is inspect.Parameter.empty:
            return DEFAULT_SEQUENCE_LENGTH
        return int(parameter.default or 1)

    def accepted_overrides(self) -> frozenset[str] | None:
        """Keyword arguments the builder takes besides the shape; ``None`` if it takes any."""
        parameters = inspect.signature(self.builder).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return None
        return frozenset(p.name for p in parameters if p.name not in _SHAPE_ARGS)


_MODELS: dict[ModelKey, RegisteredModel] = {}


def normalise_key(value: object) -> ModelKey:
    """The one place a model type is parsed: a member, its string, or a user's own name."""
    try:
        return ModelType.parse(value)  # type: ignore[arg-type]
    except ValueError:
        if isinstance(value, str) and _NAME.match(value.strip().lower()):
            return value.strip().lower()
        raise ConfigError("model_type", value, f"one of {_listing()}") from None


def _listing() -> str:
    return ", ".join(repr(entry.name) for entry in _MODELS.values()) or "none registered"


def _check_builder(key: ModelKey, builder: object) -> None:
    if inspect.isclass(builder) and not issubclass(builder, nn.Module):
        raise ValueError(f"model class for {key!s} must subclass torch.nn.Module, got {builder}")
    if not callable(builder):
        raise ValueError(f"model builder for {key!s} must be callable, got {builder!r}")
    params = inspect.signature(builder).parameters  # type: ignore[arg-type]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not takes_any and not all(name in params for name in _SHAPE_ARGS):
        raise ValueError(f"model builder for {key!s} must accept input_dim and num_classes")


def register_model(
    key: ModelKey, *, defaults: ModelDefaults | None = None, builtin: bool = False
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model class (or builder function) under ``key``; use as a decorator.

    Built-in models cannot be replaced (that would silently change every run); a user's key
    registered twice is replaced, with a warning, so notebooks can re-run a cell.
    """
    normalised = normalise_key(key)

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _check_builder(normalised, builder)
        existing = _MODELS.get(normalised)
        if existing is not None and existing.builtin:
            raise ValueError(
                f"{existing.name!r} is a built-in model and cannot be replaced; register your "
                f"model under {ModelType.CUSTOM.value!r} or a new name"
            )
        if existing is not None and existing.builder is not builder:
            logger.warning("replacing the model registered as %r", existing.name)
        _MODELS[normalised] = RegisteredModel(normalised, builder, defaults, builtin)
        return builder

    return decorator


def unregister_model(key: ModelKey) -> None:
    """Remove a user-registered model (built-in models stay)."""
    entry = get_model_entry(key)
    if entry.builtin:
        raise ValueError(f"{entry.name!r} is a built-in model and cannot be unregistered")
    del _MODELS[entry.key]


def list_models() -> list[ModelKey]:
    """Registered keys in registration order; built-in types come back as ``ModelType``."""
    return list(_MODELS)


def get_model_entry(key: object) -> RegisteredModel:
    """Look a model up by member or string; unknown keys list the registered ones."""
    normalised = normalise_key(key)
    if normalised not in _MODELS:
        raise ConfigError("model_type", key, f"one of {_listing()}")
    return _MODELS[normalised]


def get_model(
    key: object, *, input_dim: int, num_classes: int, seed: int | None = None, **overrides: Any
) -> nn.Module:
    """Build a registered model; ``overrides`` go on top of its tuned defaults.

    With ``seed``, the weights are initialised from that seed without touching the caller's
    global random state, so the same seed always gives the same initial model.
    """
    entry = get_model_entry(key)
    _checks.positive_int("input_dim", input_dim)
    # one output: a regression head (remaining useful life, ``task = "rul"``)
    _checks.positive_int("num_classes", num_classes, minimum=1)
    accepted = entry.accepted_overrides()
    for name in overrides:
        if accepted is not None and name not in accepted:
            valid = ", ".join(repr(n) for n in sorted(accepted)) or "none"
            raise ConfigError(f"{entry.name} override", name, f"one of {valid}")
    if seed is None:
        return entry.builder(input_dim=input_dim, num_classes=num_classes, **overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return entry.builder(input_dim=input_dim, num_classes=num_classes, **overrides)
