"""``networkfed simulate``: options, config file precedence, exit codes, resume after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine_helpers import TINY_ROWS, metric_values
from networkfed.cli.main import app

runner = CliRunner()

TINY = ["--rows-per-site", str(TINY_ROWS), "--local-epochs", "1", "--workers", "0"]


def _simulate(*args: str) -> Any:
    return runner.invoke(app, ["simulate", *args])


def _toml(run_dir: Path) -> str:
    return (run_dir / "config.toml").read_text()


def test_simulate_writes_a_run_folder_and_says_where(tmp_path: Path) -> None:
    # Execute
    result = _simulate(*TINY, "--rounds", "1", "--run-dir", str(tmp_path / "run"))

    # Assert
    assert result.exit_code == 0, result.output
    assert f"Run folder: {tmp_path / 'run'}" in result.stdout
    assert "report.html" in result.stdout
    assert (tmp_path / "run" / "summary.json").is_file()


def test_json_prints_the_summary(tmp_path: Path) -> None:
    result = _simulate(*TINY, "--rounds", "1", "--json", "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rounds_completed"] == 1
    assert summary["run_dir"] == str(tmp_path / "run")


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    # Prepare
    config = tmp_path / "run.toml"
    config.write_text(
        'rounds = 3\nlocal_epochs = 1\nseed = 7\nworkers = 0\nstrategy = "fedprox"\n'
        f'strategy_options = {{ proximal_mu = 0.5 }}\n[data]\nrows_per_site = {TINY_ROWS}\n'
    )

    # Execute
    result = _simulate("--config", str(config), "--rounds", "1", "--quiet",
                       "--strategy-option", "proximal_mu=0.01", "--run-dir", str(tmp_path / "r"))

    # Assert: the flag wins, the file's other values are kept
    assert result.exit_code == 0, result.output
    written = _toml(tmp_path / "r")
    assert "rounds = 1\n" in written
    assert "seed = 7\n" in written
    assert "proximal_mu = 0.01" in written
    assert f"rows_per_site = {TINY_ROWS}" in written


@pytest.mark.parametrize(("args", "window"), [
    ([], 1),  # the CNN reads rows, as the design document builds it
    (["--model", "lstm"], 10),
    (["--model", "hybrid"], 10),
    (["--sequence-length", "4"], 4),  # a flag wins over the model's default
    (["--model", "lstm", "--sequence-length", "1"], 1),
])
def test_the_window_length_defaults_to_the_models_own(
    tmp_path: Path, args: list[str], window: int
) -> None:
    # Execute
    result = _simulate(*TINY, "--rounds", "1", "--quiet", *args, "--run-dir", str(tmp_path / "r"))

    # Assert: the resolved value is written, so a resume reads the same windows
    assert result.exit_code == 0, result.output
    assert f"sequence_length = {window}\n" in _toml(tmp_path / "r")
    spec = json.loads((tmp_path / "r" / "checkpoints/global/round_0001.json").read_text())
    assert spec["extra"]["preprocessing"]["sequence_length"] == window


def test_a_config_files_window_length_wins_over_the_models_default(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f"rounds = 1\n[data]\nrows_per_site = {TINY_ROWS}\nsequence_length = 10\n")
    result = _simulate(*TINY, "--config", str(config), "--quiet", "--run-dir", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "sequence_length = 10\n" in _toml(tmp_path / "r")


def test_hparams_from_a_tune_result_apply_and_flags_still_win(tmp_path: Path) -> None:
    # Prepare: a best_hyperparameters.json as `networkfed tune` writes it
    tuned = tmp_path / "best_hyperparameters.json"
    tuned.write_text(json.dumps({
        "model": "cnn", "model_overrides": {"dropout_rate": 0.1},
        "training_overrides": {"learning_rate": 0.002}, "local_epochs": 2,
    }))

    # Execute
    result = _simulate(*TINY, "--rounds", "1", "--hparams", str(tuned), "--quiet",
                       "--run-dir", str(tmp_path / "run"))

    # Assert: tuned values applied, except local_epochs, which the flag (in TINY) sets to 1
    assert result.exit_code == 0, result.output
    written = _toml(tmp_path / "run")
    assert "dropout_rate = 0.1" in written
    assert "learning_rate = 0.002" in written
    assert "local_epochs = 1\n" in written


def test_class_weighting_flag_reaches_the_run_folder_config(tmp_path: Path) -> None:
    # Execute
    result = _simulate(*TINY, "--rounds", "1", "--quiet", "--class-weighting", "sqrt",
                       "--run-dir", str(tmp_path / "run"))

    # Assert
    assert result.exit_code == 0, result.output
    assert 'class_weighting = "sqrt"\n' in _toml(tmp_path / "run")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--rounds", "0"], "--rounds"),
        (["--strategy", "fedbest"], "strategy"),
        (["--fraction-fit", "1.5"], "--fraction-fit"),
        (["--num-sites", "0"], "--num-sites"),
        (["--strategy-option", "mu"], "--strategy-option"),
        (["--model", "transformer"], "model"),
        (["--engine", "warp"], "engine"),
        (["--class-weighting", "inverse"], "--class-weighting"),
        (["--min-fit-clients", "5"], "min_fit_clients"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(
    tmp_path: Path, args: list[str], named: str
) -> None:
    result = _simulate(*TINY, *args, "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output


def test_unknown_config_file_key_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("roundz = 3\n")
    result = _simulate("--config", str(config), "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert "roundz" in result.output


def test_missing_data_file_exits_3(tmp_path: Path) -> None:
    result = _simulate("--dataset", "ai4i2020", "--data-path", str(tmp_path / "missing.csv"),
                       "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 3, result.output
    assert "missing.csv" in result.output


def test_resume_without_run_dir_exits_2() -> None:
    result = _simulate("--resume")
    assert result.exit_code == 2
    assert "--run-dir" in result.output


# --- resume after a real process is killed -----------------------------------------------------

KILL_ARGS = ["--rows-per-site", "600", "--rounds", "4", "--local-epochs", "2", "--workers", "0",
             "--seed", "11", "--quiet"]


def _start(run_dir: Path) -> subprocess.Popen[str]:
    code = "from networkfed.cli.entry import main; main()"  # as the console script runs
    command = [sys.executable, "-c", code, "simulate", *KILL_ARGS, "--run-dir", str(run_dir)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """Give the child the default Ctrl-C handling: a shell starts background jobs with SIGINT
    ignored, and Python then never raises KeyboardInterrupt (the run would just finish)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_saved_round(process: subprocess.Popen[str], run_dir: Path, at_least: int) -> int:
    state = run_dir / "resume" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if state.is_file():
            saved = json.loads(state.read_text())["completed_round"]
            if saved >= at_least:
                return int(saved)
        assert process.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError("no round was saved in time")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir = tmp_path_factory.mktemp("whole") / "run"
    result = _simulate(*KILL_ARGS, "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    return json.loads((run_dir / "summary.json").read_text())


def _resume_and_compare(run_dir: Path, expected: dict[str, Any]) -> None:
    result = _simulate("--resume", "--run-dir", str(run_dir), "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert metric_values(summary) == metric_values(expected)
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == len(set(rows))


@pytest.mark.slow
def test_resume_after_kill_9_ends_like_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: dict[str, Any]
) -> None:
    # Prepare: kill -9 a real `networkfed simulate` once round 1 is saved
    run_dir = tmp_path / "run"
    process = _start(run_dir)
    saved = _wait_for_saved_round(process, run_dir, at_least=1)
    process.kill()
    process.wait(timeout=30)
    assert saved < 4

    # Execute / Assert
    _resume_and_compare(run_dir, uninterrupted)


@pytest.mark.slow
def test_ctrl_c_exits_130_says_how_to_resume_and_resume_finishes(
    tmp_path: Path, uninterrupted: dict[str, Any]
) -> None:
    # Prepare
    run_dir = tmp_path / "run"
    process = _start(run_dir)
    _wait_for_saved_round(process, run_dir, at_least=1)

    # Execute
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    # Assert
    assert process.returncode == 130, stderr
    assert f"--resume --run-dir {run_dir}" in stderr.replace("\n", "")
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    _resume_and_compare(run_dir, uninterrupted)
