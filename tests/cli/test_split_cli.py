"""``--split`` in every command that loads data, and ``datasets describe`` as a run sees data.

The issue-18 scenario through the command line: ``describe`` shows the split ``auto`` chose
and uses the chosen model's window; a run writes the resolved split in its ``config.toml``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib
import typer.main
from typer.testing import CliRunner

from episodes import write_cycles
from networkfed.cli.main import app
from networkfed.flower.settings import DEFAULT_RUN_CONFIG, FlowerSettings

runner = CliRunner()
CYCLE_FLAGS = ["--dataset", "csv", "--label", "failure", "--site-column", "plant",
               "--group-column", "cycle", "--time-column", "second"]


def _options(path: tuple[str, ...]) -> dict[str, object]:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return {opt: param for param in command.params for opt in getattr(param, "opts", [])}


def test_describe_accepts_every_data_flag_simulate_accepts() -> None:
    simulate, describe = _options(("simulate",)), _options(("datasets", "describe"))
    data_flags = {flag for flag, param in simulate.items()
                  if getattr(param, "rich_help_panel", None) == "Data"}
    assert {"--feature-columns", "--split", "--rows-per-site"} <= data_flags
    assert data_flags | {"--config", "--model", "--seed"} <= set(describe)


@pytest.mark.parametrize("path", [("simulate",), ("tune",), ("datasets", "describe"),
                                  ("flower", "up")])
def test_every_data_command_takes_split(path: tuple[str, ...]) -> None:
    assert "--split" in _options(path)


def test_describe_shows_the_split_auto_chose_and_the_models_window(tmp_path: Path) -> None:
    # Prepare
    path = write_cycles(tmp_path / "cycles.csv")
    flags = ["datasets", "describe", *CYCLE_FLAGS, "--data-path", str(path)]

    # Execute: the LSTM's own window (10), as `simulate --model lstm` would use
    as_json = runner.invoke(app, [*flags, "--model", "lstm", "--json"])
    as_text = runner.invoke(app, [*flags, "--model", "lstm"])
    cnn = runner.invoke(app, [*flags, "--json"])

    # Assert
    assert as_json.exit_code == 0, as_json.output
    summary = json.loads(as_json.output)
    assert summary["split"] == "machine" and summary["sequence_length"] == 10
    assert as_text.exit_code == 0, as_text.output
    assert "split: machine (the label is constant within every cycle group" in as_text.output
    assert json.loads(cnn.output)["sequence_length"] == 1  # simulate's default model, rows


def test_describe_warns_when_a_time_split_cuts_episodes(tmp_path: Path) -> None:
    path = write_cycles(tmp_path / "cycles.csv")
    result = runner.invoke(app, ["datasets", "describe", *CYCLE_FLAGS, "--data-path", str(path),
                                 "--split", "time"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "use --split machine" in result.output


def test_a_run_writes_the_resolved_split_in_its_config(tmp_path: Path) -> None:
    # Prepare
    path = write_cycles(tmp_path / "cycles.csv")
    run_dir = tmp_path / "run"

    # Execute: the LSTM default window, refused before the split was chosen by the data
    result = runner.invoke(app, ["simulate", *CYCLE_FLAGS, "--data-path", str(path),
                                 "--model", "lstm", "--rounds", "1", "--local-epochs", "1",
                                 "--workers", "0", "--quiet", "--run-dir", str(run_dir)])

    # Assert
    assert result.exit_code == 0, result.output
    config = tomllib.loads((run_dir / "config.toml").read_text())
    assert config["data"]["split"] == "machine"
    assert config["data"]["sequence_length"] == 10


def test_a_bad_split_exits_2_naming_the_flag() -> None:
    result = runner.invoke(app, ["simulate", "--split", "by-week", "--run-dir", "unused"])
    assert result.exit_code == 2
    assert "--split" in result.output and "by-week" in result.output


def test_the_flower_run_config_has_a_split_key() -> None:
    assert DEFAULT_RUN_CONFIG["split"] == "auto"
    settings = FlowerSettings.from_run_config({"split": "machine"})
    assert settings.config.data.split == "machine"
