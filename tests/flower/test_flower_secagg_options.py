"""`flower up --secagg`: its options and the refusals made before anything starts (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from networkfed.cli.main import app
from networkfed.core.errors import ConfigError
from networkfed.flower.deploy import DeployOptions, deploy_run_config
from networkfed.flower.secagg_settings import SecAggSettings
from networkfed.flower.settings import DEFAULT_RUN_CONFIG, FlowerSettings

runner = CliRunner()


@pytest.mark.parametrize("options, named", [
    (["--strategy", "krum"], "krum needs every site's own update"),
    (["--strategy", "fedmedian"], "fedmedian needs every site's own update"),
    (["--secagg-threshold", "4"], "at most the 3 sites"),
    (["--secagg-threshold", "3"], "2 to 2"),
    (["--secagg-shares", "4"], "3 to 3"),
    (["--fedbn"], "--fedbn/--fedper"),
    (["--model", "xgboost"], "xgboost trees"),
])
def test_up_refuses_what_cannot_run_on_a_secure_sum_before_writing_anything(
    tmp_path, options, named
):
    # Execute
    result = runner.invoke(app, ["flower", "up", "--secagg", *options, "--dir",
                                 str(tmp_path / "deploy")])
    # Assert: exit 2, one line naming the option, nothing written
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "deploy").exists()


def test_up_refuses_client_level_dp_with_secagg_from_a_config_file(tmp_path):
    # Prepare
    config = tmp_path / "run.toml"
    config.write_text(tomli_w.dumps({"dp": "client", "dp_clip": 1.0, "dp_noise": 1.0}))
    # Execute
    result = runner.invoke(app, ["flower", "up", "--config", str(config), "--secagg",
                                 "--dir", str(tmp_path / "deploy")])
    # Assert
    assert result.exit_code == 2, result.output
    assert "'dp'" in result.output and not (tmp_path / "deploy").exists()


def test_up_refuses_secagg_options_without_secagg(tmp_path):
    result = runner.invoke(app, ["flower", "up", "--secagg-threshold", "2", "--dir",
                                 str(tmp_path / "deploy")])
    assert result.exit_code == 2
    assert "with --secagg" in result.output


@pytest.mark.parametrize("sites, expected", [(3, (3, 2)), (4, (4, 3)), (5, (5, 3)),
                                             (10, (10, 6))])
def test_default_shares_are_every_site_and_threshold_a_majority(sites, expected):
    assert SecAggSettings().resolved(sites) == expected
    SecAggSettings().check(sites)  # the defaults are always valid


def test_two_sites_are_refused_since_each_could_subtract_its_own_update():
    with pytest.raises(ConfigError, match="at least 3 sites"):
        SecAggSettings().check(2)


def test_the_server_app_applies_the_same_refusals_to_a_direct_flwr_run():
    # Prepare: what `flwr run --run-config` would pass, bypassing the CLI
    values = {**DEFAULT_RUN_CONFIG, "secagg": True, "strategy": "bulyan", "min-nodes": 5}
    # Execute / Assert
    with pytest.raises(ConfigError, match="bulyan"):
        FlowerSettings.from_run_config(values)


def test_deploy_passes_the_secagg_settings_to_the_server_app(tmp_path):
    # Prepare
    options = DeployOptions(secagg=SecAggSettings(shares=3, threshold=2))
    # Execute
    values = deploy_run_config(tmp_path / "run.toml", Path("run"), 3, options)
    settings = FlowerSettings.from_run_config(values | {"config-file": ""})
    # Assert
    assert settings.secagg == SecAggSettings(shares=3, threshold=2)
    assert FlowerSettings.from_run_config(DEFAULT_RUN_CONFIG).secagg is None
