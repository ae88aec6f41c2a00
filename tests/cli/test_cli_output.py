"""What the command line prints off a terminal and when it refuses: whole names, one line.

Through a real pipe (a subprocess with ``stdout=PIPE``), where Rich would otherwise assume 80
columns and cut cells ("automoti…", a path split as ".jso" / "n").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fabricated_run import make_run_folder
from networkfed.cli.main import app

runner = CliRunner()
NETWORKFED = str(Path(sys.executable).parent / "networkfed")
LONG_SITES = ("automotive_detroit_body_shop_line_7", "chemical_houston_cracker_unit_b",
              "aerospace_seattle_composite_cure_oven")
LONG_FEATURES = ("spindle_vibration_rms_mm_per_s_axis_x", "coolant_outlet_temperature_deg_c")


def _piped(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    env.update(OMP_NUM_THREADS="1", FLWR_TELEMETRY_ENABLED="0")
    # capture_output: stdout and stderr are pipes, not a terminal
    return subprocess.run([NETWORKFED, *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


def _plants_csv(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({
        "plant": np.repeat(LONG_SITES, n // 3),
        LONG_FEATURES[0]: rng.normal(size=n),
        LONG_FEATURES[1]: rng.normal(size=n),
        "failure": (rng.random(n) < 0.1).astype(int),
    })
    path = folder / "plants_with_a_rather_long_file_name_for_the_table.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_tables_keep_whole_site_and_feature_names_through_a_pipe(tmp_path: Path) -> None:
    # Prepare
    path = _plants_csv(tmp_path)

    # Execute
    done = _piped("datasets", "describe", "--dataset", "csv", "--data-path", str(path),
                  "--label", "failure", "--site-column", "plant", cwd=tmp_path)

    # Assert
    assert done.returncode == 0, done.stderr
    for name in (*LONG_SITES, *LONG_FEATURES):
        assert name in done.stdout
    assert "…" not in done.stdout


@pytest.mark.slow
def test_history_keeps_the_whole_run_path_through_a_pipe(tmp_path: Path) -> None:
    # Prepare: a run folder deep enough that its path is wider than 80 columns
    root = tmp_path / "plants" / "automotive_detroit_body_shop_line_7" / "runs_of_december"
    run_dir = make_run_folder(root, rounds=2, checkpoints=True)

    # Execute
    done = _piped("history", str(run_dir), cwd=tmp_path)

    # Assert: the path on one line, every metric whole
    assert done.returncode == 0, done.stderr
    assert f"Saved rounds of {run_dir}" in done.stdout
    assert f"networkfed restore {run_dir} --round" in done.stdout
    assert "…" not in done.stdout


@pytest.mark.slow
def test_a_data_error_is_one_line_starting_with_error(tmp_path: Path) -> None:
    # Prepare: a non-numeric cell
    path = tmp_path / "plant.csv"
    path.write_text("temp,failure\n300,0\nhot,1\n")

    # Execute
    done = _piped("datasets", "describe", "--dataset", "csv", "--data-path", str(path),
                  "--label", "failure", "--partition", "iid", "--feature-columns", "temp",
                  cwd=tmp_path)

    # Assert
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "plant.csv" in lines[0] and "temp" in lines[0]


def test_an_unknown_model_lists_only_the_models_that_can_run() -> None:
    result = runner.invoke(app, ["simulate", "--model", "transformer", "--run-dir", "unused"])
    assert result.exit_code == 2
    assert "'cnn', 'lstm', 'hybrid'" in result.output
    assert "custom" not in result.output


def test_a_csv_without_label_says_which_flag_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "plant.csv"
    path.write_text("temp,failure\n300,0\n301,1\n")
    result = runner.invoke(app, ["datasets", "describe", "--dataset", "csv", "--data-path",
                                 str(path), "--partition", "iid"])
    assert result.exit_code == 2
    assert "missing option 'label_column (--label)'" in result.output
    assert "None" not in result.output


@pytest.mark.parametrize("command", [["report"], ["history"], ["restore", "--round", "1",
                                                                 "--out", "m.safetensors"]])
def test_a_folder_that_is_not_a_run_exits_2_with_one_line(tmp_path: Path, command) -> None:
    # Prepare: a folder with something in it, but no run
    (tmp_path / "notes.txt").write_text("not a run")

    # Execute
    result = runner.invoke(app, [command[0], str(tmp_path), *command[1:]])

    # Assert
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "is not a NetworkFed run folder" in lines[0]


def test_a_missing_run_folder_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["history", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_brackets_in_an_error_message_are_printed() -> None:
    # a [data] table named in a message must not vanish as Rich markup
    result = runner.invoke(app, ["simulate", "--config", "missing-[data].toml"])
    assert result.exit_code == 2
    assert "missing-[data].toml" in result.output
