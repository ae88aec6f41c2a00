"""Aggregation strategies: one small file per rule, registered by name.

Importing this package registers every strategy. Use :func:`build_strategy` to make one from a
name and options (as ``RunConfig.strategy`` / ``strategy_options`` hold them) and
:data:`STRATEGY_OPTIONS` to list each strategy's options, defaults and allowed ranges.
"""

from networkfed.federated.strategies import (  # noqa: F401  (registers the strategies)
    bulyan,
    fedadagrad,
    fedadam,
    fedavg,
    fedavgm,
    fedmedian,
    fedprox,
    fedtrimmedavg,
    fedyogi,
    krum,
    multikrum,
)
from networkfed.federated.strategies.base import Strategy
from networkfed.federated.strategies.options import Option
from networkfed.federated.strategies.registry import (
    STRATEGY_OPTIONS,
    build_strategy,
    get_strategy_class,
    list_strategies,
    register_strategy,
)

__all__ = [
    "STRATEGY_OPTIONS",
    "Option",
    "Strategy",
    "build_strategy",
    "get_strategy_class",
    "list_strategies",
    "register_strategy",
]
