"""``networkfed report RUN``: writes report.html, prints its path; bad folders fail in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fabricated_run import make_run_folder
from networkfed.cli.main import app

runner = CliRunner()


def test_report_writes_and_prints_the_report_path(tmp_path: Path) -> None:
    # Prepare
    run_dir = make_run_folder(tmp_path, baselines=False)

    # Execute
    result = runner.invoke(app, ["report", str(run_dir)])

    # Assert
    assert result.exit_code == 0, result.output
    printed = Path(result.stdout.strip())
    assert printed == run_dir / "report.html"
    assert printed.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("missing", ["metrics.jsonl", "summary.json"])
def test_report_on_incomplete_folder_names_the_missing_file(tmp_path: Path, missing: str) -> None:
    # Prepare
    run_dir = make_run_folder(tmp_path, baselines=False, predictions=False)
    (run_dir / missing).unlink()

    # Execute
    result = runner.invoke(app, ["report", str(run_dir)])

    # Assert
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = result.stderr.strip()
    assert missing in message
    assert len(message.splitlines()) == 1


def test_report_on_missing_folder_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.output
