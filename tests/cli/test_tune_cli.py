"""``networkfed tune``: a killed study continues, its result feeds ``simulate --hparams``."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from networkfed.cli.main import app
from networkfed.monitoring.run_folder import read_config
from networkfed.tuning.study import STUDY_NAME, interrupted_trials, storage_url

runner = CliRunner()
TINY = ["--rows-per-site", "300", "--rounds", "2", "--seed", "4"]
KILL_DEADLINE_S = 120


def tune_args(study_dir: Path, trials: int, model: str = "cnn") -> list[str]:
    return ["tune", "--model", model, "--trials", str(trials), "--study-dir", str(study_dir), *TINY]


def trial_states(study_dir: Path) -> list[TrialState]:
    """Read-only look at the study while ``tune`` writes it (Optuna's storage would try to
    create the tables itself, racing the process that is creating them)."""
    database = study_dir / "study.db"
    if not database.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute("SELECT state FROM trials ORDER BY number").fetchall()
    except sqlite3.OperationalError:  # tables not created yet, or the file is being set up
        return []
    return [TrialState[state] for (state,) in rows]


def start_tune(study_dir: Path, trials: int) -> subprocess.Popen:
    command = "from networkfed.cli.entry import main; main()"  # as the console script runs
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", command, *tune_args(study_dir, trials), "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def kill_after_first_trial(process: subprocess.Popen, study_dir: Path) -> None:
    deadline = time.monotonic() + KILL_DEADLINE_S
    while TrialState.COMPLETE not in trial_states(study_dir) and TrialState.PRUNED not in (
        trial_states(study_dir)
    ):
        if process.poll() is not None:
            pytest.fail(f"tune ended before a trial finished: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("no trial finished in time")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.slow
def test_killed_tune_resumes_to_the_requested_trial_count(tmp_path: Path) -> None:
    # Prepare: a real process, killed with SIGKILL once its first trial has finished
    study_dir = tmp_path / "study"
    process = start_tune(study_dir, trials=3)
    kill_after_first_trial(process, study_dir)
    before = trial_states(study_dir)

    # Execute
    result = runner.invoke(app, [*tune_args(study_dir, 3), "--json"])

    # Assert
    assert process.returncode == -signal.SIGKILL
    assert result.exit_code == 0, result.output
    after = optuna.load_study(study_name=STUDY_NAME, storage=storage_url(study_dir))
    finished = [t for t in after.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 3
    assert after.trials[0].state == before[0]  # the finished trial was kept, not redone
    killed_mid_trial = [n for n, state in enumerate(before) if state == TrialState.RUNNING]
    assert interrupted_trials(after) == killed_mid_trial
    outcome = json.loads(result.stdout)
    assert outcome["best"]["best_value"] == pytest.approx(after.best_value)
    assert (study_dir / "best_hyperparameters.json").is_file()
    assert (study_dir / "history.png").is_file()


@pytest.mark.slow
def test_best_hyperparameters_feed_a_simulation(tmp_path: Path) -> None:
    # Prepare
    study_dir, run_dir = tmp_path / "study", tmp_path / "run"
    tuned = runner.invoke(app, [*tune_args(study_dir, 2, model="lstm"), "--quiet"])
    assert tuned.exit_code == 0, tuned.output
    best_file = study_dir / "best_hyperparameters.json"
    best = json.loads(best_file.read_text())

    # Execute
    result = runner.invoke(app, [
        "simulate", "--hparams", str(best_file), "--rows-per-site", "300", "--rounds", "1",
        "--run-dir", str(run_dir), "--workers", "0", "--quiet",
    ])

    # Assert
    assert result.exit_code == 0, result.output
    config = read_config(run_dir)
    assert config["model"] == "lstm"
    assert config["hparams"] == pytest.approx(best["hparams"])
    assert config["local_epochs"] == best["local_epochs"]
    snapshot = json.loads((run_dir / "checkpoints" / "global" / "round_0001.json").read_text())
    overrides = snapshot["config"]["overrides"]
    assert {key: overrides[key] for key in best["model_overrides"]} == best["model_overrides"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "transformer"], "unknown model type 'transformer'"),
        (["--model", "custom"], "no search space"),
        (["--strategy", "fedsgd"], "strategy"),
        (["--dataset", "nope"], "dataset"),
        (["--feature-bins", "1"], "feature_bins"),
        (["--features", "torque_nm,no_such_sensor"], "no_such_sensor"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(tmp_path: Path, args, message) -> None:
    # Execute
    result = runner.invoke(app, ["tune", "--study-dir", str(tmp_path / "s"), *TINY, *args])

    # Assert
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "s" / "study.db").exists()


def test_missing_data_file_exits_3_before_creating_a_study(tmp_path: Path) -> None:
    # Execute
    result = runner.invoke(app, [
        "tune", "--dataset", "ai4i2020", "--data-path", str(tmp_path / "missing.csv"),
        "--study-dir", str(tmp_path / "s"),
    ])

    # Assert
    assert result.exit_code == 3
    assert "missing.csv" in result.output and "does not exist" in result.output
    assert not (tmp_path / "s").exists()


def test_changed_settings_on_an_existing_study_exit_2(tmp_path: Path) -> None:
    # Prepare
    first = runner.invoke(app, [*tune_args(tmp_path, 1), "--timeout", "0", "--quiet"])
    assert first.exit_code == 0, first.output

    # Execute
    result = runner.invoke(app, [*tune_args(tmp_path, 1, model="hybrid"), "--quiet"])

    # Assert
    assert result.exit_code == 2
    assert "model='cnn'" in result.output
