"""What a tuning trial may change, centred on each model's documented hyperparameters.

Every range brackets the design document's tuned value (``BEST_HYPERPARAMETERS`` and
``OPTIMIZED_TRAINING_CONFIG``), so the default model is always inside the space and the study
searches around it rather than from scratch. Layer widths are tuned as one base width that
keeps the documented progression (``[b, 2b, 4b]`` for the CNN), because Optuna categories must
be scalars and independent widths would mostly produce pointless shapes.

The same functions turn a finished trial's ``params`` back into overrides (through
``optuna.trial.FixedTrial``), so the study, the best-trial table and
``best_hyperparameters.json`` never disagree about what a parameter means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

from networkfed.core.enums import ModelType
from networkfed.federated.strategies import STRATEGY_OPTIONS

TUNABLE_MODELS = (ModelType.CNN, ModelType.LSTM, ModelType.HYBRID, ModelType.XGBOOST)
BATCH_SIZES = (16, 32, 64)
LOCAL_EPOCHS = (1, 4)


@dataclass(frozen=True)
class LogRange:
    """A strategy option searched on a log scale between ``low`` and ``high``."""

    low: float
    high: float


@dataclass(frozen=True)
class LinearRange:
    """A strategy option searched uniformly between ``low`` and ``high``."""

    low: float
    high: float


STRATEGY_SEARCH: dict[str, LogRange | LinearRange] = {
    "proximal_mu": LogRange(1e-3, 1.0),
    "eta": LogRange(1e-3, 3e-1),
    "tau": LogRange(1e-6, 1e-1),
    "beta_1": LinearRange(0.8, 0.95),
    "beta_2": LinearRange(0.9, 0.999),
    "server_momentum": LinearRange(0.0, 0.95),
    "server_learning_rate": LogRange(0.1, 1.0),
    "beta": LinearRange(0.0, 0.3),
}
"""Search ranges by strategy option name, around the defaults; options not listed keep their
defaults: ``num_malicious_clients`` of Krum is a threat-model setting, not a knob, and the
server optimisers' ``eta_l`` is recorded for parity with Flower but unused by the arithmetic."""


@dataclass(frozen=True)
class TrialHyperparameters:
    """One point of the search space, split the way the rest of NetworkFed consumes it.

    Attributes
    ----------
    model_overrides
        Keyword arguments for ``ModelFactory.create_model(..., **model_overrides)``.
    training_overrides
        Keys of ``OPTIMIZED_TRAINING_CONFIG`` (``training_config(model, **training_overrides)``).
    local_epochs
        ``RunConfig.local_epochs``.
    strategy_options
        ``RunConfig.strategy_options`` for the study's strategy.
    """

    model_overrides: dict[str, Any] = field(default_factory=dict)
    training_overrides: dict[str, Any] = field(default_factory=dict)
    local_epochs: int = 3
    strategy_options: dict[str, float | int] = field(default_factory=dict)

    @property
    def hparams(self) -> dict[str, Any]:
        """Model and training overrides in one dict: the value of ``RunConfig.hparams``."""
        return {**self.model_overrides, **self.training_overrides}


def _suggest_cnn(trial: optuna.Trial) -> dict[str, Any]:
    base = trial.suggest_categorical("conv_filters_base", [16, 32, 64])
    fc_base = trial.suggest_categorical("fc_hidden_base", [64, 128, 256])
    return {
        "conv_filters": [base, 2 * base, 4 * base],
        "fc_hidden": [2 * fc_base, fc_base],
        "dropout_rate": trial.suggest_float("dropout_rate", 0.1, 0.5),
    }


def _suggest_lstm(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "hidden_size": trial.suggest_categorical("hidden_size", [32, 64, 128]),
        "num_layers": trial.suggest_int("num_layers", 1, 2),
        "bidirectional": trial.suggest_categorical("bidirectional", [True, False]),
        "dropout_rate": trial.suggest_float("dropout_rate", 0.0, 0.5),
    }


def _suggest_hybrid(trial: optuna.Trial) -> dict[str, Any]:
    base = trial.suggest_categorical("cnn_filters_base", [16, 32, 64])
    return {
        "cnn_filters": [base, 2 * base],
        "lstm_hidden": trial.suggest_categorical("lstm_hidden", [64, 128, 256]),
        "dropout_rate": trial.suggest_float("dropout_rate", 0.2, 0.6),
    }


def _suggest_xgboost(trial: optuna.Trial) -> dict[str, Any]:
    """Tree settings (``networkfed.trees.params``); around the tuned defaults."""
    return {
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "eta": trial.suggest_float("eta", 0.02, 0.5, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
    }


_MODEL_SPACES: dict[ModelType, Callable[[optuna.Trial], dict[str, Any]]] = {
    ModelType.CNN: _suggest_cnn,
    ModelType.LSTM: _suggest_lstm,
    ModelType.HYBRID: _suggest_hybrid,
    ModelType.XGBOOST: _suggest_xgboost,
}

TREE_LOCAL_ROUNDS = (1, 8)
"""Search range of xgboost's local boosting rounds per round (its ``local_epochs``)."""


def _suggest_training(trial: optuna.Trial, model_type: ModelType) -> dict[str, Any]:
    """Optimiser settings; gradient clipping only where the model's config has it (trees have
    no optimiser)."""
    if model_type is ModelType.XGBOOST:
        return {}
    overrides: dict[str, Any] = {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", list(BATCH_SIZES)),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
    }
    if model_type in (ModelType.LSTM, ModelType.HYBRID):
        overrides["gradient_clipping"] = trial.suggest_float("gradient_clipping", 0.5, 5.0)
    return overrides


def _suggest_strategy(trial: optuna.Trial, strategy: str) -> dict[str, float | int]:
    """Each tunable option of ``strategy``, its search range clipped to the allowed one."""
    chosen: dict[str, float | int] = {}
    for name, option in STRATEGY_OPTIONS.get(strategy, {}).items():  # xgb-*: no options
        searched = STRATEGY_SEARCH.get(name)
        if searched is None or option.integer:
            continue
        low, high = max(searched.low, option.low), min(searched.high, option.high)
        if option.high_open and high >= option.high:
            high = option.high * 0.999
        log = isinstance(searched, LogRange) and low > 0
        chosen[name] = trial.suggest_float(f"strategy.{name}", low, high, log=log)
    return chosen


def suggest_hyperparameters(
    trial: optuna.Trial | optuna.trial.FixedTrial, model_type: ModelType | str, strategy: str
) -> TrialHyperparameters:
    """Draw (or, with a ``FixedTrial``, rebuild) one point of the search space.

    Raises
    ------
    ValueError
        If ``model_type`` is not one of :data:`TUNABLE_MODELS`.
    """
    parsed = ModelType.parse(model_type)
    if parsed not in _MODEL_SPACES:
        valid = ", ".join(repr(m.value) for m in TUNABLE_MODELS)
        raise ValueError(f"no search space for model type {parsed.value!r}; tunable: {valid}")
    return TrialHyperparameters(
        model_overrides=_MODEL_SPACES[parsed](trial),  # type: ignore[arg-type]
        training_overrides=_suggest_training(trial, parsed),  # type: ignore[arg-type]
        local_epochs=trial.suggest_int(
            "local_epochs", *(TREE_LOCAL_ROUNDS if parsed is ModelType.XGBOOST else LOCAL_EPOCHS)),
        strategy_options=_suggest_strategy(trial, strategy),  # type: ignore[arg-type]
    )


def hyperparameters_from_params(
    params: Mapping[str, Any], model_type: ModelType | str, strategy: str
) -> TrialHyperparameters:
    """Rebuild the overrides of a finished trial from its stored ``params``."""
    return suggest_hyperparameters(optuna.trial.FixedTrial(dict(params)), model_type, strategy)
