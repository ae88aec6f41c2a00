"""Build a ``RunConfig`` from a TOML file, a tune result and command-line flags.

Precedence, lowest first: built-in defaults, ``--config FILE.toml`` (top-level keys are
``RunConfig`` fields, data options live in a ``[data]`` table), ``--hparams FILE.json``
(a ``networkfed tune`` result), then each flag given on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from networkfed.core.errors import ConfigError
from networkfed.federated.config import RunConfig

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["build_run_config", "default_run_dir", "parse_strategy_options", "validation_message"]

FLAG_NAMES = {
    "data.dataset": "--dataset",
    "data.data_path": "--data-path",
    "data.partition": "--partition",
    "data.num_sites": "--num-sites",
    "data.rows_per_site": "--rows-per-site",
    "data.sites": "--sites",
    "data.sequence_length": "--sequence-length",
    "data.label_column": "--label",
    "data.site_column": "--site-column",
    "data.group_column": "--group-column",
    "data.time_column": "--time-column",
    "data.feature_columns": "--feature-columns",
    "data.features": "--features",
    "data.feature_bins": "--feature-bins",
    "data.split": "--split",
    "data.task": "--task",
    "data.rul_cap": "--rul-cap",
    "data.rul_column": "--rul-column",
    "data.run_to_failure": "--run-to-failure",
    "strategy_options": "--strategy-option",
    "attack_options": "--attack-option",
}


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings of a TOML config file as a plain dict."""
    if not path.is_file():
        raise ConfigError("--config", str(path), "an existing TOML file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError("--config", str(path), f"a valid TOML file ({error})") from None


def build_run_config(
    base: Mapping[str, Any], run_flags: Mapping[str, Any], data_flags: Mapping[str, Any],
    tuned: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Merge settings (flags whose value is ``None`` were not given) and validate them."""
    merged = {key: value for key, value in base.items() if key != "data"}
    data = dict(base.get("data") or {})
    merged.update(tuned or {})
    for key, value in run_flags.items():
        if value is None:
            continue
        if key in ("strategy_options", "attack_options"):
            value = {**dict(merged.get(key) or {}), **value}
        merged[key] = value
    data.update({key: value for key, value in data_flags.items() if value is not None})
    merged["data"] = data
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(*validation_message(error)) from None


def validation_message(error: ValidationError) -> tuple[str, object, str]:
    """(option, value, expected) of a pydantic error, naming the flag where there is one."""
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    flag = FLAG_NAMES.get(key) or FLAG_NAMES.get(key.rsplit(".", 1)[0])
    if flag is None and "." not in key:
        flag = "--" + key.replace("_", "-")
    option = f"{key} ({flag})" if flag else key
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "a known option (this name is not one)"
    return option, first.get("input"), message[0].lower() + message[1:]


def parse_strategy_options(
    pairs: Sequence[str] | None, flag: str = "--strategy-option",
    example: str = "proximal_mu=0.01",
) -> dict[str, float | int] | None:
    """``["mu=0.01", "beta=0.9"]`` -> ``{"mu": 0.01, "beta": 0.9}`` (also ``--attack-option``)."""
    if not pairs:
        return None
    options: dict[str, float | int] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(flag, pair, f"KEY=VALUE, e.g. {example}")
        options[key.strip()] = _number(flag, pair, text.strip())
    return options


def _number(flag: str, pair: str, text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigError(flag, pair, "a numeric VALUE") from None


def split_columns(text: str | None) -> tuple[str, ...] | None:
    """``"a, b,c"`` -> ``("a", "b", "c")``."""
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def default_run_dir(config: RunConfig, root: Path = Path("runs")) -> Path:
    """``runs/<timestamp>-<model>-<strategy>`` (a new folder for every run)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = root / f"{stamp}-{config.model}-{config.strategy}"
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = root / f"{stamp}-{config.model}-{config.strategy}-{suffix}"
    return candidate
