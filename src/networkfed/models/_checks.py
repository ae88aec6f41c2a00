"""Argument checks shared by the model constructors and configuration helpers.

User input is never checked with ``assert``: every check raises :class:`ConfigError`, whose
message names the option, the value and what would have been valid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

from networkfed.core.errors import ConfigError


def positive_int(option: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ConfigError(option, value, f"an integer >= {minimum}")
    return int(value)


def optional_positive_int(option: str, value: object) -> int | None:
    """Like :func:`positive_int`, but ``None`` means "use the model's default"."""
    return None if value is None else positive_int(option, value)


def int_list(option: str, value: object) -> list[int]:
    """Return a non-empty list of positive integers (layer widths)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise ConfigError(option, value, "a non-empty list of integers >= 1, e.g. [32, 64]")
    return [positive_int(f"{option}[{index}]", item) for index, item in enumerate(value)]


def rate(option: str, value: object) -> float:
    """Return a dropout-style probability in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value < 1.0:
        raise ConfigError(option, value, "a number in [0, 1)")
    return float(value)


def positive_float(option: str, value: object, *, allow_zero: bool = False) -> float:
    """Return a finite number ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    valid = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not valid or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(option, value, "a finite number >= 0" if allow_zero else "a number > 0")
    return float(value)


def flag(option: str, value: object) -> bool:
    """Return ``value`` if it is a real ``bool`` (``"false"`` would otherwise be truthy)."""
    if not isinstance(value, bool):
        raise ConfigError(option, value, "true or false")
    return value
