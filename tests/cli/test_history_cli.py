"""``networkfed history`` and ``networkfed restore``: every saved round, restorable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from fabricated_run import make_run_folder
from networkfed.cli.main import app
from networkfed.models import ModelManager
from networkfed.monitoring.history import load_restored_model

runner = CliRunner()
ROUNDS = 3


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_folder(
        tmp_path_factory.mktemp("history"), rounds=ROUNDS, baselines=False, checkpoints=True
    )


def overall_rows(run_dir: Path, split: str = "test") -> dict[int, dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    wanted = ("federated", "overall", split)
    return {r["round"]: r for r in rows if (r["mode"], r["site"], r["split"]) == wanted}


def table_rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line[:6].strip().rstrip("*").isdigit()]


def test_history_lists_every_saved_round_with_its_metrics(run_dir: Path) -> None:
    # Execute
    result = runner.invoke(app, ["history", str(run_dir)])

    # Assert
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    expected = overall_rows(run_dir)
    assert [int(row[0].rstrip("*")) for row in rows] == sorted(expected)
    for row in rows:
        assert f"{expected[int(row[0].rstrip('*'))]['f1']:.3f}" in row


def test_history_marks_the_round_with_the_best_validation_pr_auc(run_dir: Path) -> None:
    # Prepare: the fabricated run logs a random validation PR-AUC per round
    validation = {r: row["pr_auc"] for r, row in overall_rows(run_dir, "val").items()}
    best = max(validation, key=validation.__getitem__)
    # Execute
    table = runner.invoke(app, ["history", str(run_dir)])
    listed = json.loads(runner.invoke(app, ["history", str(run_dir), "--json"]).stdout)
    # Assert: chosen on validation, shown in the table and the JSON
    assert [row[0] for row in table_rows(table.stdout) if row[0].endswith("*")] == [f"{best}*"]
    assert f"best validation PR-AUC: round {best}" in table.stdout
    assert [entry["round"] for entry in listed if entry["best"]] == [best]
    logged = {e["round"]: e["validation_pr_auc"] for e in listed
              if e["validation_pr_auc"] is not None}
    assert logged == pytest.approx(validation)


def test_history_json_gives_rounds_metrics_and_thresholds(run_dir: Path) -> None:
    # Execute
    result = runner.invoke(app, ["history", str(run_dir), "--json"])

    # Assert
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    expected = overall_rows(run_dir)
    assert [entry["round"] for entry in listed] == list(range(ROUNDS + 1))
    for entry in listed:
        assert entry["metrics"]["f1"] == pytest.approx(expected[entry["round"]]["f1"])
        assert entry["threshold"] == pytest.approx(expected[entry["round"]]["threshold"])
        assert entry["problem"] is None


def test_restore_writes_the_rounds_tensors_and_rebuildable_metadata(
    run_dir: Path, tmp_path: Path
) -> None:
    # Prepare
    out = tmp_path / "restored" / "round2.safetensors"
    saved, _ = ModelManager(run_dir / "checkpoints").get_snapshot("global", 2)

    # Execute
    result = runner.invoke(app, ["restore", str(run_dir), "--round", "2", "--out", str(out)])

    # Assert
    assert result.exit_code == 0, result.output
    restored = load_file(str(out))
    assert sorted(restored) == sorted(saved)
    for name, tensor in saved.items():
        assert torch.equal(restored[name], tensor), name
    metadata = json.loads(out.with_suffix(".json").read_text())
    assert metadata["round"] == 2
    assert metadata["model_type"] == "cnn"
    assert metadata["config"]["input_dim"] == 5
    assert metadata["preprocessing"]["feature_names"] == ["a", "b", "c", "d", "e"]
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_restored_file_rebuilds_the_model_even_without_its_json(
    run_dir: Path, tmp_path: Path
) -> None:
    # Prepare: restore, then keep only the tensor file (its header carries the metadata)
    out = tmp_path / "model.safetensors"
    runner.invoke(app, ["restore", str(run_dir), "--round", "1", "--out", str(out)])
    out.with_suffix(".json").unlink()
    saved, _ = ModelManager(run_dir / "checkpoints").get_snapshot("global", 1)

    # Execute
    wrapper, metadata = load_restored_model(out)

    # Assert
    assert metadata["round"] == 1
    for name, tensor in wrapper.get_parameters().items():
        assert torch.equal(tensor, saved[name]), name
    probabilities = wrapper.predict_proba(torch.zeros(3, 4, 5))
    assert probabilities.shape[0] == 3


def test_restore_of_unknown_round_exits_2_and_lists_saved_rounds(
    run_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model.safetensors"
    result = runner.invoke(app, ["restore", str(run_dir), "--round", "42", "--out", str(out)])
    assert result.exit_code == 2
    assert "saved rounds: 0, 1, 2, 3" in result.stderr
    assert not out.exists()


def test_restore_refuses_a_json_output_name(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    result = runner.invoke(app, ["restore", str(run_dir), "--round", "1", "--out", str(out)])
    assert result.exit_code == 2
    assert "--out" in result.stderr


def test_history_without_checkpoints_names_the_folder(tmp_path: Path) -> None:
    # Prepare
    run_dir = make_run_folder(tmp_path, baselines=False, predictions=False)

    # Execute
    result = runner.invoke(app, ["history", str(run_dir)])

    # Assert
    assert result.exit_code != 0
    assert "checkpoints/" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
