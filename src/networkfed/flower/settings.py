"""The Flower app's run config (``[tool.flwr.app.config]``), read once into a frozen object.

Flower passes ``flwr run --run-config`` values as a flat dict with kebab-case keys; every key
must be declared in ``pyproject.toml`` with its default (:data:`DEFAULT_RUN_CONFIG` is that
table; a test keeps the two equal). :meth:`FlowerSettings.from_run_config` turns it into a
:class:`~networkfed.federated.config.RunConfig` plus the deployment's own settings.

Options without a key here (strategy options, hparams, CSV columns, ...) come from
``config-file``: a TOML file in ``networkfed simulate --config`` format, read on the server.
A key overrides the file only when its value differs from the default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from networkfed.core.errors import ConfigError
from networkfed.federated.config import RunConfig
from networkfed.flower.secagg_settings import SecAggSettings, check_secure_config

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["DEFAULT_RUN_CONFIG", "FlowerSettings", "refuse_baselines"]

DEFAULT_RUN_CONFIG: dict[str, str | int | float | bool] = {
    "num-server-rounds": 10,
    "local-epochs": 3,
    "model": "cnn",
    "strategy": "fedavg",
    "dataset": "synthetic",
    "rows-per-site": 0,
    "feature-bins": 0,
    "split": "auto",
    "seed": 42,
    "fraction-fit": 1.0,
    "min-fit-clients": 3,
    "class-weighting": "balanced",
    "fedbn": False,
    "fedper": False,
    "attack": "",
    "attackers": 0,
    "config-file": "",
    "run-dir": "",
    "resume": False,
    "min-nodes": 0,
    "node-wait-timeout": 300.0,
    "round-timeout": 600.0,
    "straggler-timeout": 120.0,
    "secagg": False,
    "secagg-shares": 0,
    "secagg-threshold": 0,
}
"""Key -> default; ``0`` and ``""`` mean "not set" (rows-per-site, min-nodes, config-file,
run-dir, attack, attackers: a simulated attack's options come from ``config-file``;
secagg-shares, secagg-threshold: SecAgg+'s defaults, see
:class:`~networkfed.flower.secagg.SecAggSettings`)."""

_RUN_FIELDS = {  # key -> RunConfig field ("data." for the data table)
    "num-server-rounds": "rounds",
    "local-epochs": "local_epochs",
    "model": "model",
    "strategy": "strategy",
    "dataset": "data.dataset",
    "rows-per-site": "data.rows_per_site",
    "feature-bins": "data.feature_bins",
    "split": "data.split",
    "seed": "seed",
    "fraction-fit": "fraction_fit",
    "min-fit-clients": "min_fit_clients",
    "class-weighting": "class_weighting",
    "fedbn": "fedbn",
    "fedper": "fedper",
    "attack": "attack",
    "attackers": "attackers",
}


@dataclass(frozen=True)
class FlowerSettings:
    """A deployment run: the federated run itself and how the server waits for its sites."""

    config: RunConfig
    run_dir: Path
    resume: bool
    min_nodes: int
    node_wait_timeout: float
    round_timeout: float
    straggler_timeout: float
    secagg: SecAggSettings | None = None
    """SecAgg+ for the training exchange (``None``: plain messages)."""

    @classmethod
    def from_run_config(cls, run_config: Mapping[str, Any]) -> FlowerSettings:
        """Validate Flower's run config (unknown keys and bad values raise ``ConfigError``)."""
        unknown = sorted(set(run_config) - set(DEFAULT_RUN_CONFIG))
        if unknown:
            raise ConfigError("run-config", unknown[0],
                              "one of " + ", ".join(sorted(DEFAULT_RUN_CONFIG)))
        values = {**DEFAULT_RUN_CONFIG, **run_config}
        config = _run_config(values)
        keys = ("node-wait-timeout", "round-timeout", "straggler-timeout")
        waits = {key: float(values[key]) for key in keys}
        for key, seconds in waits.items():
            if not (seconds > 0 and math.isfinite(seconds)):
                raise ConfigError(key, seconds, "a positive number of seconds")
        refuse_baselines(config)
        min_nodes = int(values["min-nodes"]) or config.min_fit_clients
        if min_nodes < config.min_fit_clients:
            raise ConfigError("min-nodes", min_nodes,
                              f"at least min-fit-clients ({config.min_fit_clients}) or 0")
        run_dir = (Path(str(values["run-dir"])) if values["run-dir"]
                   else config.run_dir or _default_dir(config))
        return cls(config.model_copy(update={"run_dir": run_dir}), run_dir,
                   bool(values["resume"]), min_nodes, *waits.values(),
                   secagg=_secagg(values, config, min_nodes))


def refuse_baselines(config: RunConfig) -> None:
    """A deployment runs no baseline (any model): centralized and local-only training need the
    plants' rows on the server. Refused before anything starts, not after the rounds."""
    if config.baselines:
        raise ConfigError("baselines", True, "false under a Flower deployment (baselines pool "
                          "or isolate site data, which stays at the plants)")


def _run_config(values: Mapping[str, Any]) -> RunConfig:
    """The config file (if any), then every key that differs from its default."""
    base = _read_config_file(str(values["config-file"]))
    base["engine"] = "flower"
    data = dict(base.pop("data", None) or {})
    for key, field in _RUN_FIELDS.items():
        if values[key] == DEFAULT_RUN_CONFIG[key]:
            continue
        if field.startswith("data."):
            data[field[5:]] = values[key]
        else:
            base[field] = values[key]
    try:
        return RunConfig.model_validate({**base, "data": data})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(where, first.get("input"), first["msg"]) from None


def _secagg(values: Mapping[str, Any], config: RunConfig, num_sites: int) -> SecAggSettings | None:
    """The run's SecAgg+ settings, checked against its options and its ``num_sites`` sites."""
    if not values["secagg"]:
        return None
    settings = SecAggSettings(int(values["secagg-shares"]), int(values["secagg-threshold"]))
    check_secure_config(config, settings, num_sites)
    return settings


def _read_config_file(path: str) -> dict[str, Any]:
    if not path:
        return {}
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError("config-file", path, "an existing TOML file on the SuperLink's machine")
    try:
        return dict(tomllib.loads(file.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError("config-file", path, f"a valid TOML file ({error})") from None


def _default_dir(config: RunConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-flower-{config.model}-{config.strategy}"
