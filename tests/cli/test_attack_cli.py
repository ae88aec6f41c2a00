"""``networkfed simulate --attack``: flags reach the run folder; bad settings exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine_helpers import TINY_ROWS
from networkfed.cli.main import app

runner = CliRunner()
TINY = ["simulate", "--rows-per-site", str(TINY_ROWS), "--local-epochs", "1", "--workers", "0",
        "--rounds", "1"]


def test_attack_flags_are_recorded(tmp_path: Path) -> None:
    # Execute
    result = runner.invoke(app, [*TINY, "--attack", "scaling", "--attackers", "1",
                                 "--attack-option", "scale=4", "--json",
                                 "--run-dir", str(tmp_path / "run")])
    # Assert
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["attack"]["name"] == "scaling" and summary["attack"]["options"] == {
        "scale": 4.0}
    assert len(summary["per_site"]) == 2  # the honest sites only
    toml = (tmp_path / "run" / "config.toml").read_text()
    assert 'attack = "scaling"' in toml and "attackers = 1" in toml


@pytest.mark.parametrize(("flags", "message"), [
    (["--attack", "gaussian", "--attackers", "1", "--attack-option", "scale=2"], "gaussian"),
    (["--attack", "gaussian", "--attackers", "1", "--attack-option", "sd"], "KEY=VALUE"),
    (["--attack", "sign-flip", "--attackers", "3"], "at least one must be honest"),
    (["--attack", "sign-flip"], "attackers"),
    (["--strategy", "bulyan", "--strategy-option", "num_malicious_clients=1"], "4f + 3 = 7"),
    (["--strategy", "krum", "--strategy-option", "num_malicious_clients=1"], "2f + 2 = 4"),
])
def test_bad_settings_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    result = runner.invoke(app, [*TINY, *flags, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
