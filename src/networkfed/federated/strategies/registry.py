"""The strategy registry: one dict, a decorator and three look-ups (as in torchvision's ``_api``).

Registration happens when :mod:`networkfed.federated.strategies` is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from networkfed.core.errors import ConfigError
from networkfed.federated.strategies.base import Strategy
from networkfed.federated.strategies.options import Option

_STRATEGIES: dict[str, type[Strategy]] = {}

STRATEGY_OPTIONS: dict[str, Mapping[str, Option]] = {}
"""Strategy name -> option name -> :class:`Option` (default, allowed range, help)."""


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator adding ``cls`` under ``cls.name``; a duplicate name is a bug."""
    if not cls.name or cls.name in _STRATEGIES:
        raise ValueError(f"strategy name {cls.name!r} is empty or already registered")
    _STRATEGIES[cls.name] = cls
    STRATEGY_OPTIONS[cls.name] = cls.options
    return cls


def list_strategies() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(_STRATEGIES)


def get_strategy_class(name: str) -> type[Strategy]:
    """The class registered as ``name`` (case-insensitive); unknown names list the valid ones."""
    key = str(name).strip().lower()
    if key not in _STRATEGIES:
        raise ConfigError("strategy", name, "one of " + ", ".join(list_strategies()))
    return _STRATEGIES[key]


def build_strategy(name: str, **options: float | int) -> Strategy:
    """Build strategy ``name`` with ``options``; unknown options list the valid ones."""
    cls = get_strategy_class(name)
    unknown = sorted(set(options) - set(cls.options))
    if unknown:
        valid = ", ".join(cls.options) or "none"
        expected = f"an option of strategy '{cls.name}' ({valid})"
        raise ConfigError(f"{cls.name}.{unknown[0]}", options[unknown[0]], expected)
    factory: Callable[..., Strategy] = cls
    return factory(**options)
