"""One strategy option: its default, its allowed range and what it is for.

Strategies validate their keyword arguments against these in ``__init__``; the CLI and the
tuner read the same objects through ``STRATEGY_OPTIONS``, so a range is written once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from networkfed.core.errors import ConfigError


@dataclass(frozen=True)
class Option:
    """A numeric strategy option with an allowed interval.

    Attributes
    ----------
    default
        Value used when the option is not given (Flower's default where Flower has one).
    low, high
        Bounds of the allowed interval; ``low_open`` / ``high_open`` exclude them.
    integer
        Whether only whole numbers are allowed (``2.0`` is accepted as ``2``).
    help
        One line for ``--help`` and the Strategies guide.
    """

    default: float | int
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    help: str = ""

    def describe(self) -> str:
        """The allowed values in words, e.g. ``a number in [0, 0.5)``."""
        kind = "an integer" if self.integer else "a number"
        left = "(" if self.low_open or self.low == -math.inf else "["
        right = ")" if self.high_open or self.high == math.inf else "]"
        return f"{kind} in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def check(self, name: str, value: object) -> float | int:
        """Return ``value`` as int or float, or raise ``ConfigError`` naming ``name``."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(name, value, self.describe())
        if self.integer:
            if not float(value).is_integer():
                raise ConfigError(name, value, self.describe())
            value = int(value)
        if not self._inside(float(value)):
            raise ConfigError(name, value, self.describe())
        return value if self.integer else float(value)

    def _inside(self, value: float) -> bool:
        if math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def _fmt(bound: float) -> str:
    if math.isinf(bound):
        return "inf" if bound > 0 else "-inf"
    return f"{bound:g}"
