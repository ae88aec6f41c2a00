"""``networkfed simulate / predict / export`` with ``--model xgboost``: refusals (exit 2, one
line listing what is valid), predict reproducing a real AI4I run's test metrics, exports
matching XGBoost, and resume after ``kill -9``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
from typer.testing import CliRunner

from engine_helpers import TINY_ROWS, metric_values
from networkfed.cli.main import app
from networkfed.serving.checkpoint import load_served_model
from networkfed.serving.export import sample_windows

runner = CliRunner()
TINY = ["--model", "xgboost", "--rows-per-site", str(TINY_ROWS), "--rounds", "2", "--quiet"]


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.mark.parametrize(("flags", "named"), [
    (["--strategy", "fedprox"], "'xgb-bagging', 'xgb-cyclic'"),
    (["--strategy", "krum"], "'xgb-bagging', 'xgb-cyclic'"),
    (["--fedbn"], "fedbn"),
    (["--fedper"], "fedper"),
    (["--attack", "gaussian", "--attackers", "1"], "attack"),
    (["--feature-bins", "4"], "feature_bins"),
    (["--strategy-option", "proximal_mu=0.1"], "strategy_options"),
])
def test_options_that_do_not_apply_to_trees_exit_2_naming_them(
    tmp_path: Path, flags: list[str], named: str
) -> None:
    result = _invoke("simulate", *TINY, *flags, "--run-dir", str(tmp_path / "run"))

    assert result.exit_code == 2, result.output
    assert named in result.output and "xgboost" in result.output
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_tree_strategies_need_the_xgboost_model(tmp_path: Path) -> None:
    result = _invoke("simulate", "--strategy", "xgb-cyclic", "--run-dir", str(tmp_path / "r"))

    assert result.exit_code == 2
    assert "model 'xgboost'" in result.output


@pytest.fixture(scope="module")
def ai4i_run(tmp_path_factory: pytest.TempPathFactory, ai4i_csv: Path) -> Path:
    """A real federated xgboost run on AI4I's product-type sites."""
    run_dir = tmp_path_factory.mktemp("ai4i") / "run"
    result = _invoke("simulate", "--model", "xgboost", "--dataset", "ai4i2020", "--data-path",
                     str(ai4i_csv), "--rounds", "3", "--seed", "1", "--quiet",
                     "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    return run_dir


def test_predict_reproduces_the_runs_test_metrics(ai4i_run: Path, tmp_path: Path) -> None:
    # Prepare: the run's own test rows, one file per site
    exported = _invoke("predict", "--run", str(ai4i_run), "--export-test-rows", str(tmp_path))
    assert exported.exit_code == 0, exported.output
    per_site = json.loads((ai4i_run / "summary.json").read_text())["per_site"]

    for site, expected in per_site.items():
        # Execute
        result = _invoke("predict", "--run", str(ai4i_run), "--data",
                         str(tmp_path / f"{site}.csv"), "--out", str(tmp_path / "p.csv"),
                         "--json")

        # Assert
        assert result.exit_code == 0, result.output
        got = json.loads(result.output)["metrics"]
        for key in ("f1", "pr_auc", "roc_auc", "precision", "recall"):
            assert got[key] == pytest.approx(expected[key], abs=1e-12), (site, key)


@pytest.mark.parametrize("export_format", ["onnx", "json"])
def test_exports_match_xgboost(ai4i_run: Path, tmp_path: Path, export_format: str) -> None:
    target = tmp_path / f"model.{export_format}"

    result = _invoke("export", "--run", str(ai4i_run), "--format", export_format,
                     "--out", str(target), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["max_abs_difference"] <= 1e-5
    side = json.loads(Path(str(target) + ".preprocessing.json").read_text())
    assert side["model_type"] == "xgboost" and side["format"] == export_format
    served = load_served_model(ai4i_run)
    x = sample_windows(served, 64, seed=7)  # inputs of our own, not the parity check's
    if export_format == "onnx":
        session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {"windows": x.numpy()})
        np.testing.assert_allclose(got, served.predict_proba(x), atol=1e-5)
    else:
        assert target.read_bytes() == served.booster


def test_onnx_export_of_windows_computes_their_tree_features(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert _invoke("simulate", *TINY, "--sequence-length", "5", "--run-dir",
                   str(run_dir)).exit_code == 0

    result = _invoke("export", "--run", str(run_dir), "--out", str(tmp_path / "m.onnx"),
                     "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["max_abs_difference"] <= 1e-5
    assert load_served_model(run_dir).preprocessing.sequence_length == 5


def test_torchscript_is_refused_for_trees(ai4i_run: Path, tmp_path: Path) -> None:
    result = _invoke("export", "--run", str(ai4i_run), "--format", "torchscript",
                     "--out", str(tmp_path / "m.pt"))

    assert result.exit_code == 2
    assert "onnx, json" in result.output
    assert not (tmp_path / "m.pt").exists()


# --- resume after kill -9 -----------------------------------------------------------------------

KILL_ARGS = ["--model", "xgboost", "--rows-per-site", "3000", "--rounds", "12",
             "--local-epochs", "4", "--seed", "5", "--quiet"]


@pytest.mark.slow
def test_resume_after_kill_9_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    # Prepare: the uninterrupted run, and a real process killed once round 2 is saved
    whole = tmp_path / "whole"
    assert _invoke("simulate", *KILL_ARGS, "--run-dir", str(whole)).exit_code == 0
    cut = tmp_path / "cut"
    code = "from networkfed.cli.entry import main; main()"
    process = subprocess.Popen([sys.executable, "-c", code, "simulate", *KILL_ARGS,
                                "--run-dir", str(cut)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    state = cut / "resume" / "state.json"
    deadline = time.monotonic() + 120
    while not (state.is_file() and json.loads(state.read_text())["completed_round"] >= 2):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no round saved in time"
        time.sleep(0.01)
    process.kill()
    process.wait(timeout=30)
    assert json.loads(state.read_text())["completed_round"] < 12

    # Execute
    result = _invoke("simulate", "--resume", "--run-dir", str(cut), "--quiet")

    # Assert
    assert result.exit_code == 0, result.output
    summaries = [json.loads((d / "summary.json").read_text()) for d in (whole, cut)]
    assert metric_values(summaries[1]) == metric_values(summaries[0])
    assert (cut / "metrics.jsonl").read_text() == (whole / "metrics.jsonl").read_text()


def test_history_lists_the_saved_boosters_and_restore_points_to_export(ai4i_run: Path) -> None:
    listed = _invoke("history", str(ai4i_run), "--json")
    restored = _invoke("restore", str(ai4i_run), "--round", "1", "--out", "m.safetensors")

    assert listed.exit_code == 0, listed.output
    rounds = json.loads(listed.output)
    assert [r["round"] for r in rounds] == [0, 1, 2, 3]
    summary = json.loads((ai4i_run / "summary.json").read_text())
    assert rounds[-1]["metrics"]["f1"] == summary["final"]["f1"]
    assert [r["round"] for r in rounds if r["best"]] == [summary["best_round"]]
    assert restored.exit_code == 2 and "--format json" in restored.output


@pytest.mark.slow
def test_tune_searches_tree_settings_and_simulate_runs_the_best(tmp_path: Path) -> None:
    # Execute: a short study on the tiny sites, then a run with its best settings
    study = tmp_path / "study"
    tuned = _invoke("tune", "--model", "xgboost", "--trials", "3", "--rounds", "2",
                    "--rows-per-site", str(TINY_ROWS), "--study-dir", str(study), "--quiet")
    best = json.loads((study / "best_hyperparameters.json").read_text())
    ran = _invoke("simulate", "--hparams", str(study / "best_hyperparameters.json"),
                  "--rows-per-site", str(TINY_ROWS), "--rounds", "2", "--quiet",
                  "--run-dir", str(tmp_path / "run"))
    refused = _invoke("tune", "--model", "xgboost", "--strategy", "fedprox", "--trials", "1",
                      "--study-dir", str(tmp_path / "other"))

    # Assert
    assert tuned.exit_code == 0, tuned.output
    assert best["strategy"] == "xgb-bagging"
    assert set(best["hparams"]) == {"max_depth", "eta", "min_child_weight", "subsample"}
    assert ran.exit_code == 0, ran.output
    saved = (tmp_path / "run" / "config.toml").read_text()
    assert f"max_depth = {best['hparams']['max_depth']}" in saved
    assert f"local_epochs = {best['local_epochs']}" in saved
    assert refused.exit_code == 2 and "'xgb-bagging', 'xgb-cyclic'" in refused.output
