"""Training settings: the values shared by every tuned model and per-run overrides of them.

A run's ``hparams`` mix architecture hyperparameters (``hidden_size``) and training settings
(``learning_rate``); :func:`split_overrides` sorts them, :func:`training_config` merges the
training half onto the model's tuned settings. Both reject unknown names and list the valid
ones, so a typo in a config file or an Optuna search space fails before any training starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from networkfed.core.errors import ConfigError
from networkfed.models import _checks
from networkfed.models._registry import get_model_entry
from networkfed.models.defaults import GENERIC_TRAINING

__all__ = ["split_overrides", "training_config"]

_OPTIMIZERS = ("Adam",)  # what the local trainer builds; extend both together
_SCHEDULERS = ("StepLR",)


def _choice(valid: tuple[str, ...]) -> Callable[[str, object], object]:
    def check(option: str, value: object) -> object:
        if value not in valid:
            raise ConfigError(option, value, "one of " + ", ".join(repr(v) for v in valid))
        return value

    return check


def _rate_in_unit(option: str, value: object) -> float:
    number = _checks.positive_float(option, value)
    if number > 1.0:
        raise ConfigError(option, value, "a number in (0, 1]")
    return number


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "batch_size": _checks.positive_int,
    "learning_rate": _checks.positive_float,
    "optimizer": _choice(_OPTIMIZERS),
    "scheduler": _choice(_SCHEDULERS),
    "step_size": _checks.positive_int,
    "gamma": _rate_in_unit,
    "weight_decay": lambda option, value: _checks.positive_float(option, value, allow_zero=True),
    "epochs": _checks.positive_int,
    "sequence_length": _checks.positive_int,
    "gradient_clipping": lambda option, value: (
        None if value is None else _checks.positive_float(option, value)
    ),
}


def _tuned_training(model_type: object) -> dict[str, Any]:
    entry = get_model_entry(model_type)
    if entry.defaults is None or not entry.defaults.training:
        return dict(GENERIC_TRAINING)
    return entry.defaults.training_dict()


def training_config(model_type: object, **overrides: Any) -> dict[str, Any]:
    """Return a fresh copy of the model's tuned training settings with ``overrides`` applied.

    Raises
    ------
    ConfigError
        For an unknown model type, a setting the model does not have, or an invalid value;
        the message lists what is valid.
    """
    config = _tuned_training(model_type)
    for name, value in overrides.items():
        if name not in config:
            valid = ", ".join(repr(key) for key in config)
            raise ConfigError("training setting", name, f"one of {valid}")
        check = _CHECKS.get(name)
        config[name] = check(name, value) if check is not None else value
    return config


def split_overrides(
    model_type: object, hparams: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split mixed ``hparams`` into ``(architecture overrides, training overrides)``.

    A name both halves know (the LSTM's ``sequence_length``) goes to both, so the model and
    the trainer agree on it.
    """
    entry = get_model_entry(model_type)
    architecture = entry.accepted_overrides()
    training = _tuned_training(model_type)
    model_part: dict[str, Any] = {}
    train_part: dict[str, Any] = {}
    for name, value in hparams.items():
        in_training = name in training
        in_model = name in architecture if architecture is not None else not in_training
        if not (in_model or in_training):
            valid = ", ".join(repr(n) for n in sorted({*(architecture or ()), *training}))
            raise ConfigError(f"{entry.name} hyperparameter", name, f"one of {valid}")
        if in_model:
            model_part[name] = value
        if in_training:
            train_part[name] = value
    return model_part, train_part
