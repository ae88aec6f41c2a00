"""``networkfed export``: a checked portable model and its preprocessing, or a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from networkfed.cli.main import app
from networkfed.serving.export import PARITY_TOLERANCE
from tiny_runs import make_run

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export_cli")
    make_run(root / "run", model="hybrid", rounds=2)
    return root / "run"


@pytest.mark.slow
def test_export_defaults_to_onnx_of_the_latest_round_inside_the_run(run_dir: Path) -> None:
    # Execute
    result = runner.invoke(app, ["export", "--run", str(run_dir), "--json"])

    # Assert
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["round"] == 2 and printed["format"] == "onnx"
    assert Path(printed["path"]) == run_dir / "exports" / "global_round_0002.onnx"
    assert Path(printed["path"]).is_file() and Path(printed["preprocessing"]).is_file()
    assert printed["max_abs_difference"] <= PARITY_TOLERANCE


def test_export_torchscript_of_a_chosen_round(run_dir: Path, tmp_path: Path) -> None:
    # Execute
    result = runner.invoke(app, ["export", "--run", str(run_dir), "--round", "1",
                                 "--format", "torchscript", "--out", str(tmp_path / "m.pt")])

    # Assert
    assert result.exit_code == 0, result.output
    assert "exported round 1" in result.stdout and "parity with PyTorch" in result.stdout
    side = json.loads((tmp_path / "m.pt.preprocessing.json").read_text())
    assert side["round"] == 1 and side["model_type"] == "hybrid"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--format", "tflite"], 2, "one of onnx, torchscript"),
        (["--round", "5"], 2, "saved rounds: 0, 1, 2"),
    ],
)
def test_bad_inputs_give_one_clear_line_and_the_exit_code(
    run_dir: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    # Execute
    result = runner.invoke(app, ["export", "--run", str(run_dir), *args,
                                 "--out", str(tmp_path / "m.onnx")])

    # Assert
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m.onnx").exists()


def test_a_missing_run_folder_exits_4(tmp_path: Path) -> None:
    # Execute
    result = runner.invoke(app, ["export", "--run", str(tmp_path / "nope")])

    # Assert
    assert result.exit_code == 4
    assert "does not exist" in result.output
