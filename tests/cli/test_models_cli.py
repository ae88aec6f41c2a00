"""``networkfed models`` and ``networkfed --version``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from networkfed import __version__
from networkfed.cli.main import app
from networkfed.models import OPTIMIZED_TRAINING_CONFIG, ModelFactory

runner = CliRunner()


def counted(model_type: str, input_dim: int = 10, **overrides) -> int:
    wrapper = ModelFactory.create_model(model_type, input_dim, 2, **overrides)
    return sum(p.numel() for p in wrapper.model.parameters())


def test_version_prints_the_package_version():
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.output.strip() == f"networkfed {__version__}"


def test_models_lists_every_model_with_settings_and_size():
    result = runner.invoke(app, ["models"], env={"COLUMNS": "120"})

    assert result.exit_code == 0, result.output
    for name in ("cnn", "lstm", "hybrid"):
        assert name in result.output
        assert f"{counted(name):,} parameters" in result.output
    assert "conv_filters" in result.output and "gradient_clipping" in result.output


def test_models_json_is_machine_readable():
    result = runner.invoke(app, ["models", "--json", "--input-dim", "4", "--sequence-length", "3"])

    described = {entry["model"]: entry for entry in json.loads(result.output)}
    torch_models = [key.value for key in ModelFactory.list_available_models()]
    assert list(described) == [*torch_models, "xgboost"]
    assert described["xgboost"]["default_config"]["objective"] == "binary:logistic"
    assert described["xgboost"]["default_config"]["max_bin"] == 4096  # xgb_levers.py chose it
    cnn = described["cnn"]
    assert cnn["parameters"] == counted("cnn", input_dim=4, sequence_length=3)
    assert described["lstm"]["parameters"] == counted("lstm", input_dim=4)
    assert cnn["default_config"] == {**ModelFactory.get_default_config("cnn"), "input_dim": 4}
    assert cnn["training_config"] == OPTIMIZED_TRAINING_CONFIG["cnn"]
    assert cnn["sequence_length"] == 3


def test_models_rejects_a_bad_shape_with_a_usage_exit_code():
    result = runner.invoke(app, ["models", "--input-dim", "0"])

    assert result.exit_code == 2
    assert "input_dim" in result.output
