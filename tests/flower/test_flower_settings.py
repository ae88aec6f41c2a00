"""The Flower app's run config: pyproject's table, parsing, and the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from networkfed.core.errors import ConfigError
from networkfed.flower.settings import DEFAULT_RUN_CONFIG, FlowerSettings

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_declares_exactly_the_keys_the_app_reads():
    # Prepare
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    # Execute
    app = pyproject["tool"]["flwr"]["app"]
    # Assert
    assert app["config"] == DEFAULT_RUN_CONFIG
    assert app["components"] == {"serverapp": "networkfed.flower.server_app:app",
                                 "clientapp": "networkfed.flower.client_app:app"}
    assert "federations" not in pyproject["tool"]["flwr"]


def test_defaults_give_the_documented_run():
    settings = FlowerSettings.from_run_config(DEFAULT_RUN_CONFIG)
    assert settings.config.engine == "flower"
    assert (settings.config.rounds, settings.config.local_epochs) == (10, 3)
    assert settings.min_nodes == settings.config.min_fit_clients == 3
    assert settings.run_dir == settings.config.run_dir
    assert not settings.resume


def test_keys_override_the_config_file_only_when_set(tmp_path):
    # Prepare
    file = tmp_path / "networkfed.toml"
    file.write_text(tomli_w.dumps({"rounds": 4, "strategy": "fedprox",
                                   "strategy_options": {"proximal_mu": 0.1},
                                   "data": {"rows_per_site": 500}}))
    # Execute
    settings = FlowerSettings.from_run_config({
        "config-file": str(file), "num-server-rounds": 2, "run-dir": str(tmp_path / "run"),
        "min-nodes": 4,
    })
    # Assert
    config = settings.config
    assert config.rounds == 2  # the key wins
    assert config.strategy == "fedprox" and config.strategy_options == {"proximal_mu": 0.1}
    assert config.data.rows_per_site == 500
    assert settings.run_dir == tmp_path / "run" and settings.min_nodes == 4


def test_class_weighting_key_and_config_file_both_reach_the_run(tmp_path):
    # Prepare: the file says sqrt; a key that differs from the default says none
    file = tmp_path / "networkfed.toml"
    file.write_text(tomli_w.dumps({"class_weighting": "sqrt"}))
    # Execute
    from_file = FlowerSettings.from_run_config({"config-file": str(file)})
    from_key = FlowerSettings.from_run_config({"config-file": str(file),
                                               "class-weighting": "none"})
    # Assert
    assert from_file.config.class_weighting == "sqrt"
    assert from_key.config.class_weighting == "none"


def test_fedbn_key_and_config_file_both_reach_the_run(tmp_path):
    file = tmp_path / "networkfed.toml"
    file.write_text(tomli_w.dumps({"fedbn": True}))

    assert FlowerSettings.from_run_config({"fedbn": True}).config.fedbn is True
    assert FlowerSettings.from_run_config({"config-file": str(file)}).config.fedbn is True
    assert FlowerSettings.from_run_config({}).config.fedbn is False
    assert FlowerSettings.from_run_config({"fedper": True}).config.fedper is True


def test_feature_bins_is_a_run_config_key() -> None:
    assert FlowerSettings.from_run_config({"feature-bins": 4}).config.data.feature_bins == 4
    assert FlowerSettings.from_run_config({}).config.data.feature_bins == 0


@pytest.mark.parametrize("bad", [
    {"unknown-key": 1},
    {"round-timeout": 0.0},
    {"min-nodes": 2},  # fewer than min-fit-clients (3)
    {"model": "transformer"},
    {"class-weighting": "inverse"},
    {"config-file": "/nonexistent/networkfed.toml"},
])
def test_bad_values_raise_config_errors_naming_the_key(bad):
    with pytest.raises(ConfigError):
        FlowerSettings.from_run_config(bad)


def test_attack_keys_reach_the_run() -> None:
    settings = FlowerSettings.from_run_config({"attack": "sign-flip", "attackers": 2})
    assert (settings.config.attack, settings.config.attackers) == ("sign-flip", 2)
    assert FlowerSettings.from_run_config({}).config.attack is None
    with pytest.raises(ConfigError, match="attack"):
        FlowerSettings.from_run_config({"attack": "sign-flip"})


def test_a_deployment_refuses_baselines_from_its_config_file(tmp_path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("baselines = true\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"baselines.*plants"):
        FlowerSettings.from_run_config({"config-file": str(config)})
