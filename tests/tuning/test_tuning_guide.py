"""The Tuning guide (docs/user-guide/tuning.md): its Python runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from networkfed.federated.config import RunConfig
from networkfed.models import ModelWrapper

PAGE = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "tuning.md"
BEST = {
    "model": "lstm",
    "model_overrides": {"hidden_size": 32, "num_layers": 2, "dropout_rate": 0.1},
    "training_overrides": {"learning_rate": 0.002, "batch_size": 64},
    "local_epochs": 2,
    "strategy": "fedavg",
    "strategy_options": {},
}


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_the_python_example_uses_a_tune_result_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare
    (blocks,) = [re.findall(r"```python\n(.*?)```", page(), re.DOTALL)]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies" / "lstm").mkdir(parents=True)
    (tmp_path / "studies/lstm/best_hyperparameters.json").write_text(json.dumps(BEST))
    namespace: dict = {}

    # Execute
    exec(compile(blocks[0], "docs/user-guide/tuning.md", "exec"), namespace)

    # Assert
    assert isinstance(namespace["model"], ModelWrapper)
    assert namespace["train"]["learning_rate"] == 0.002
    config = namespace["config"]
    assert isinstance(config, RunConfig) and config.rounds == 10 and config.local_epochs == 2
    assert config.hparams == {**BEST["model_overrides"], **BEST["training_overrides"]}
