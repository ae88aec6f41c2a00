"""The Models guide (docs/user-guide/models.md): its Python runs as written and its numbers are
measured."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from networkfed.models.catalog import describe_models

PAGE = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "models.md"


def models_section() -> str:
    return PAGE.read_text(encoding="utf-8")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", models_section(), flags=re.DOTALL)


def test_the_section_has_python_to_run():
    assert python_blocks()


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_python_blocks_run_as_written(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the example's storage folder

    name = f"docs/user-guide/models.md (block {index + 1})"
    exec(compile(python_blocks()[index], name, "exec"), {})

    assert "['demo'] [0, 1, 2]" in capsys.readouterr().out


def test_parameter_counts_in_the_table_are_the_measured_ones():
    section = models_section()
    rows = {entry["model"]: entry["parameters"] for entry in describe_models()}
    windows = {entry["model"]: entry["parameters"] for entry in describe_models(sequence_length=10)}

    for name, count in rows.items():
        assert re.search(rf"\| `{name}` \|[^\n]*\| {count:,} ", section), name
    assert f"{windows['cnn']:,} on 10-step windows" in section
    assert windows["lstm"] == rows["lstm"] and windows["hybrid"] == rows["hybrid"]
