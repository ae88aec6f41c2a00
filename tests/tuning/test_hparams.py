"""``best_hyperparameters.json`` -> RunConfig: what ``simulate --hparams`` applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from networkfed.core.enums import ModelType
from networkfed.core.errors import ConfigError
from networkfed.federated.config import RunConfig
from networkfed.tuning.hparams import apply_hparams, hparams_updates, load_hparams_file

DOCUMENT = {
    "model": "lstm",
    "model_overrides": {"hidden_size": 32, "num_layers": 2, "dropout_rate": 0.1},
    "training_overrides": {"learning_rate": 0.002, "batch_size": 64},
    "local_epochs": 2,
    "strategy": "fedprox",
    "strategy_options": {"proximal_mu": 0.05},
    "best_value": 0.5,
}


def write(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_tuned_values_land_in_the_run_config_fields(tmp_path: Path) -> None:
    # Prepare
    document = load_hparams_file(write(tmp_path / "best.json", DOCUMENT))

    # Execute
    config = apply_hparams(RunConfig(rounds=4, seed=9), document)

    # Assert
    assert config.model is ModelType.LSTM
    assert config.hparams == {**DOCUMENT["model_overrides"], **DOCUMENT["training_overrides"]}
    assert config.local_epochs == 2 and config.strategy == "fedprox"
    assert config.strategy_options == {"proximal_mu": 0.05}
    assert (config.rounds, config.seed) == (4, 9)


def test_updates_leave_out_the_study_record() -> None:
    # Execute
    updates = hparams_updates(DOCUMENT)

    # Assert
    assert set(updates) == {"model", "hparams", "local_epochs", "strategy", "strategy_options"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "an existing best_hyperparameters.json"),
        ("{not json", "a JSON file"),
        ([1, 2], "a JSON object"),
        ({"model": "lstm"}, "lacks keys"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(tmp_path: Path, content, message) -> None:
    # Prepare
    path = tmp_path / "best.json"
    if content is not None:
        write(path, content)

    # Execute / Assert
    with pytest.raises(ConfigError, match=message) as caught:
        load_hparams_file(path)
    assert caught.value.exit_code == 2 and "best.json" in str(caught.value)


def test_invalid_tuned_values_are_a_config_error() -> None:
    # Prepare
    document = {**DOCUMENT, "local_epochs": 0}

    # Execute / Assert
    with pytest.raises(ConfigError, match="hparams"):
        apply_hparams(RunConfig(), document)
