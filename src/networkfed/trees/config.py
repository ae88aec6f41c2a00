"""Which run settings apply to trees, checked once when a :class:`RunConfig` is built.

A refusal is one line naming the option and listing what is valid, so ``simulate`` exits 2
before loading any data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from networkfed.trees import TREE_STRATEGIES, is_tree_model
from networkfed.trees.params import TREE_LOCAL_ROUNDS

if TYPE_CHECKING:
    from networkfed.federated.config import RunConfig

__all__ = ["TREE_CLASS_WEIGHTING", "check_tree_settings"]

TREE_CLASS_WEIGHTING = "none"
"""xgboost's default ``class_weighting`` (``scale_pos_weight`` 1): on AI4I validation data it
beat ``sqrt`` and ``balanced`` in every tree setting tried (docs/user-guide/models.md)."""

_VALID = ", ".join(repr(name) for name in TREE_STRATEGIES)


def check_tree_settings(config: RunConfig) -> dict[str, str | int]:
    """Settings xgboost fills in where none were given (strategy ``xgb-bagging``, its own
    class weighting and local boosting rounds); raises ``ValueError`` for a setting that does
    not apply to the model."""
    if not is_tree_model(config.model):
        if config.strategy in TREE_STRATEGIES:
            raise ValueError(f"strategy {config.strategy!r} federates xgboost trees: use it with "
                             "model 'xgboost' (or a tensor strategy such as 'fedavg' for "
                             f"{str(config.model)!r})")
        return {}
    strategy = config.strategy if "strategy" in config.model_fields_set else TREE_STRATEGIES[0]
    if strategy not in TREE_STRATEGIES:
        raise ValueError(f"strategy {strategy!r} averages tensors and does not apply to model "
                         f"'xgboost'; valid strategies for xgboost: {_VALID}")
    refused = [
        ("fedbn", config.fedbn, "FedBN keeps BatchNorm layers, which trees do not have"),
        ("fedper", config.fedper, "FedPer keeps an output layer, which trees do not have"),
        ("attack", config.attack is not None,
         "the simulated attacks change tensor updates, not trees"),
        ("strategy_options", bool(config.strategy_options),
         f"{_VALID} take no strategy options (tree settings go in hparams)"),
        ("data.feature_bins", config.data.feature_bins > 0,
         "trees find their own split points: set feature_bins to 0"),
    ]
    for name, given, why in refused:
        if given:
            raise ValueError(f"{name} does not apply to model 'xgboost': {why}")
    # a RUL target has no classes: its run keeps the value the task check accepts
    weighting = (config.class_weighting if "class_weighting" in config.model_fields_set
                 or config.data.task == "rul" else TREE_CLASS_WEIGHTING)
    given = config.model_fields_set
    return {"strategy": strategy, "class_weighting": weighting,
            "local_epochs": config.local_epochs if "local_epochs" in given else TREE_LOCAL_ROUNDS}
