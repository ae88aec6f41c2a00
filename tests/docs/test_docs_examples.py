"""The documentation's examples: every command parses, every Python block runs, every config
file is a valid configuration.

Python blocks that need a trained run or an exported model are run by the tests of that
feature, which read the same page (``ELSEWHERE``); every other block runs here, as written, in
a temporary folder. Shell commands are parsed by the program they call (see ``doc_blocks``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomllib
from doc_blocks import DOCS, ROOT, SHELL, Block, blocks, check_command, commands, doc_pages

from networkfed.cli.run_config import build_run_config
from networkfed.data import load_federated_data
from networkfed.federated.config import RunConfig
from networkfed.monitoring.history import restore_round
from tiny_runs import make_run, tiny_data

ELSEWHERE = {
    ("user-guide/models.md", 1): "tests/models/test_models_guide.py",
    ("user-guide/tuning.md", 1): "tests/tuning/test_tuning_guide.py",
    ("user-guide/predict-export.md", 1): "tests/serving/test_export.py",
    ("user-guide/tracking.md", 1): "tests/monitoring/test_mlflow_tracking.py",
}
"""(page, Python block) -> the test file that runs it (it reads the page itself)."""

SHELL_BLOCKS = [b for page in doc_pages() for b in blocks(page, *SHELL)]
PYTHON_BLOCKS = [b for page in doc_pages() for b in blocks(page, "python")]
RUN_HERE = [b for b in PYTHON_BLOCKS if (str(b.path.relative_to(DOCS)), b.index) not in ELSEWHERE]
COMMANDS = [(b, words) for b in SHELL_BLOCKS for words in commands(b)]


def _key(block: Block) -> tuple[str, int]:
    return str(block.path.relative_to(DOCS)), block.index


def _restored_round(tmp_path: Path) -> dict[str, Any]:
    """A tiny run's round 1 restored to ``model.safetensors``, and test windows to score."""
    data = tiny_data()
    make_run(tmp_path / "run", data=data, rounds=1)
    restore_round(tmp_path / "run", 1, tmp_path / "model.safetensors")
    run_data = RunConfig(data=data, model="cnn").data  # the CNN's default input: rows
    site = next(iter(load_federated_data(run_data, 7).sites.values()))
    return {"windows": site.test.x}


SETUPS: dict[tuple[str, int], Callable[[Path], dict[str, Any]]] = {
    ("user-guide/reports.md", 1): _restored_round,
}
"""(page, Python block) -> what the block expects to exist before it runs."""


@pytest.mark.parametrize("block_words", COMMANDS, ids=[f"{b.name}: {' '.join(w)[:50]}"
                                                       for b, w in COMMANDS])
def test_every_documented_command_parses(block_words: tuple[Block, list[str]]) -> None:
    check_command(block_words[1])


def test_blocks_run_elsewhere_exist_and_their_tests_read_the_page() -> None:
    for (page, index), runner in ELSEWHERE.items():
        assert len(blocks(DOCS / page, "python")) >= index, (page, index)
        assert f'"{Path(page).parent}" / "{Path(page).name}"' in (ROOT / runner).read_text(
            encoding="utf-8"), f"{runner} does not read docs/{page}"


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN_HERE, ids=[b.name for b in RUN_HERE])
def test_every_other_python_block_runs(block: Block, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = SETUPS.get(_key(block), lambda _: {})(tmp_path)

    exec(compile(block.code, block.name, "exec"), namespace)

    if "windows" in namespace:  # a block that scores windows scores every one
        assert len(namespace["alarm"]) == len(namespace["windows"])


TOML_BLOCKS = [b for page in doc_pages() for b in blocks(page, "toml")]


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=[b.name for b in TOML_BLOCKS])
def test_every_config_file_is_valid(block: Block) -> None:
    settings = tomllib.loads(block.code)
    if "superlink" in settings:  # the flwr CLI's connection file, not a NetworkFed config
        assert settings["superlink"]["default"] in settings["superlink"]
        return
    assert isinstance(build_run_config(settings, {}, {}), RunConfig)


def test_json_examples_parse() -> None:
    for page in doc_pages():
        for block in blocks(page, "json"):
            json.loads(block.code)


def test_script_options_count_where_the_script_or_a_module_it_imports_defines_them() -> None:
    # quality.py's --workers lives in quality_runs.command_line, --selection in quality.py
    check_command(["python", "benchmarks/quality.py", "--workers", "2", "--selection", "f"])
    check_command(["python", "benchmarks/quality_search.py", "--quick", "--models", "lstm"])
    # ... but an option no module defines still fails, and search's own option is its own
    with pytest.raises(AssertionError, match="defines no option --no-such-flag"):
        check_command(["python", "benchmarks/quality.py", "--no-such-flag"])
    with pytest.raises(AssertionError, match="defines no option --models"):
        check_command(["python", "benchmarks/quality.py", "--models", "lstm"])
