"""Read ``best_hyperparameters.json`` and apply it to a run configuration.

The file (written by ``networkfed tune``) maps onto ``RunConfig`` like this:

======================  =====================================================================
file key                ``RunConfig`` field
======================  =====================================================================
``model``               ``model`` (the file's model must match a model given explicitly)
``hparams``             ``hparams``: ``model_overrides`` (``ModelFactory.create_model(...,
                        **model_overrides)``) merged with ``training_overrides``
                        (``training_config(model, **training_overrides)``)
``local_epochs``        ``local_epochs``
``strategy``            ``strategy``
``strategy_options``    ``strategy_options``
======================  =====================================================================

Everything else in the file (best value, data settings, raw Optuna params) is a record of
the study and is not applied: the data comes from the run's own options.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from networkfed.core.enums import ModelType
from networkfed.core.errors import ConfigError
from networkfed.federated.config import RunConfig

REQUIRED_KEYS = ("model", "model_overrides", "training_overrides", "local_epochs")


def load_hparams_file(path: str | Path) -> dict[str, Any]:
    """Load and check a ``best_hyperparameters.json``.

    Raises
    ------
    ConfigError
        If the file is missing, not JSON, or lacks the keys ``tune`` writes.
    """
    source = Path(path)
    if not source.is_file():
        raise ConfigError("hparams", str(source), "an existing best_hyperparameters.json file")
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError("hparams", str(source), f"a JSON file ({error})") from None
    if not isinstance(document, dict):
        raise ConfigError("hparams", str(source), "a JSON object written by networkfed tune")
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise ConfigError("hparams", str(source), f"a tune result (it lacks keys {missing})")
    return document


def hparams_updates(document: dict[str, Any]) -> dict[str, Any]:
    """The ``RunConfig`` fields the document sets (``model``, ``hparams``, epochs, strategy)."""
    updates: dict[str, Any] = {
        "model": ModelType.parse(document["model"]),
        "hparams": {**document["model_overrides"], **document["training_overrides"]},
        "local_epochs": int(document["local_epochs"]),
    }
    if "strategy" in document:
        updates["strategy"] = document["strategy"]
        updates["strategy_options"] = dict(document.get("strategy_options") or {})
    return updates


def apply_hparams(config: RunConfig, document: dict[str, Any]) -> RunConfig:
    """A copy of ``config`` with the tuned values applied (validated like any RunConfig)."""
    # Only what was set: defaults that depend on the model (the window length) follow the
    # tuned model instead of the one ``config`` was made for.
    merged = {**config.model_dump(exclude_unset=True), **hparams_updates(document)}
    try:
        return RunConfig.model_validate(merged)
    except ValueError as error:
        expected = f"valid tuned values ({error})"
        raise ConfigError("hparams", "best_hyperparameters.json", expected) from None
