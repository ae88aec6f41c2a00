"""Experiment tracking in a real local MLflow store (SQLite), read back with ``MlflowClient``.

One ``networkfed simulate --mlflow`` on a user's CSV is run for the module; the tests read
what it logged and compare it with the run folder the same run wrote. Every test logs to that
one store (an MLflow store's first use creates its tables: about 8 s here).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine_helpers import tiny_config, tiny_data
from networkfed.api import run_federated
from networkfed.cli.main import app
from networkfed.cli.run_config import build_run_config
from networkfed.federated.callbacks import Callback
from networkfed.monitoring.tracking import tracking_store
from networkfed.serving.checkpoint import load_served_model
from tiny_runs import LABEL, write_plant_csv

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow

runner = CliRunner()
PAGE = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "tracking.md"
CSV_FLAGS = ["--dataset", "csv", "--label", LABEL, "--site-column", "plant", "--group-column",
             "machine_id", "--time-column", "step", "--rounds", "2", "--local-epochs", "1",
             "--workers", "0", "--seed", "7"]


class CtrlCAt(Callback):
    """Ctrl-C in round ``round_num``, after its metrics, before its checkpoint (as progress)."""

    def __init__(self, round_num: int) -> None:
        self.round_num = round_num

    def after_round(self, result: Any, notes: Any) -> None:
        if result.round_num == self.round_num:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A CSV run with a bare ``--mlflow``, started in a fresh working directory."""
    root = tmp_path_factory.mktemp("tracked")
    data = write_plant_csv(root / "plants.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        result = runner.invoke(app, ["simulate", *CSV_FLAGS, "--data-path", str(data),
                                     "--run-dir", "run", "--mlflow", "--quiet"])
    assert result.exit_code == 0, result.output
    client = mlflow.MlflowClient(tracking_store(str(root / "mlruns")).uri)
    runs = _runs(client, f"tags.`networkfed.run_dir` = '{root / 'run'}'")
    assert len(runs) == 1
    yield {"root": root, "run_dir": root / "run", "client": client, "run": runs[0],
           "store": root / "mlruns"}


def _runs(client: Any, query: str) -> list[Any]:
    experiment = client.get_experiment_by_name("networkfed")
    return client.search_runs([experiment.experiment_id], filter_string=query)


def _history(client: Any, run_id: str, key: str) -> dict[int, float]:
    return {m.step: m.value for m in client.get_metric_history(run_id, key)}


def _test_rows(run_dir: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["mode"] == "federated" and r["split"] == "test"]


def test_a_bare_flag_keeps_the_store_in_mlruns_of_the_working_directory(tracked) -> None:
    store = tracked["root"] / "mlruns"
    assert (store / "mlflow.db").is_file()
    assert tracked["run"].info.artifact_uri.startswith((store / "artifacts").as_uri())
    assert tracked["run"].info.status == "FINISHED"


def test_the_runs_config_is_logged_as_params(tracked) -> None:
    params = tracked["run"].data.params
    assert params["rounds"] == "2"
    assert params["seed"] == "7"
    assert params["data.dataset"] == "csv"
    assert params["data.site_column"] == "plant"
    assert params["strategy"] == "fedavg"


def test_every_rounds_overall_and_site_metrics_match_the_run_folder(tracked) -> None:
    client, run_id = tracked["client"], tracked["run"].info.run_id
    rows = _test_rows(tracked["run_dir"])
    for row in rows:
        key = "test/f1" if row["site"] == "overall" else f"site/{row['site']}/f1"
        assert _history(client, run_id, key)[row["round"]] == pytest.approx(row["f1"], abs=0)
        key = key.replace("/f1", "/pr_auc")
        assert _history(client, run_id, key)[row["round"]] == pytest.approx(row["pr_auc"], abs=0)
    assert {r["site"] for r in rows} == {"overall", "plant_a", "plant_b", "plant_c"}
    assert sorted(_history(client, run_id, "test/f1")) == [0, 1, 2]
    summary = json.loads((tracked["run_dir"] / "summary.json").read_text())
    assert tracked["run"].data.metrics["best_round"] == summary["best_round"]


def test_the_report_plots_and_files_are_artifacts(tracked) -> None:
    client, run_id = tracked["client"], tracked["run"].info.run_id
    top = {a.path for a in client.list_artifacts(run_id)}
    assert {"report.html", "summary.json", "config.toml", "metrics.jsonl", "plots",
            "model"} <= top
    plots = {Path(a.path).name for a in client.list_artifacts(run_id, "plots")}
    assert plots == {p.name for p in (tracked["run_dir"] / "plots").glob("*.png")}


def test_the_logged_model_predicts_exactly_like_the_run_folder(tracked, tmp_path: Path) -> None:
    # Prepare: the model artifact, downloaded as a user would
    client, run_id = tracked["client"], tracked["run"].info.run_id
    downloaded = Path(client.download_artifacts(run_id, "model", str(tmp_path)))
    data = str(tracked["root"] / "plants.csv")

    # Execute: `networkfed predict` on the downloaded model and on the run folder
    for name, folder in (("logged", downloaded), ("folder", tracked["run_dir"])):
        result = runner.invoke(app, ["predict", "--run", str(folder), "--data", data,
                                     "--out", str(tmp_path / f"{name}.csv"), "--json"])
        assert result.exit_code == 0, result.output

    # Assert
    logged = (tmp_path / "logged.csv").read_text()
    assert logged == (tmp_path / "folder.csv").read_text()
    assert len(logged.splitlines()) > 100


def test_the_docs_python_reads_the_run_back(tracked, monkeypatch, capsys) -> None:
    # Prepare: the page's block, run where `--mlflow` alone wrote its store
    (block,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    monkeypatch.chdir(tracked["root"])
    namespace: dict[str, Any] = {}

    # Execute
    exec(compile(block, "docs/user-guide/tracking.md (python block 1)", "exec"), namespace)

    # Assert: it found this run, and the model it downloaded serves
    assert namespace["run"].info.run_id == tracked["run"].info.run_id
    assert "fedavg" in capsys.readouterr().out
    served = load_served_model(namespace["model_dir"])
    assert served.round_num == 2


def test_a_resumed_run_continues_its_mlflow_run(tracked, tmp_path: Path) -> None:
    # Prepare: a run stopped by Ctrl-C during round 1, tracked through the config
    config = tiny_config(mlflow=str(tracked["store"]))
    with pytest.raises(KeyboardInterrupt):
        run_federated(config, tiny_data(), run_dir=tmp_path / "run",
                      progress=CtrlCAt(1))
    client, query = tracked["client"], f"tags.`networkfed.run_dir` = '{tmp_path / 'run'}'"
    assert _runs(client, query)[0].info.status == "KILLED"

    # Execute
    run_federated(config, tiny_data(), run_dir=tmp_path / "run", resume=True)

    # Assert: one MLflow run, finished, with every round
    runs = _runs(client, query)
    assert len(runs) == 1
    assert runs[0].info.status == "FINISHED"
    assert sorted(_history(client, runs[0].info.run_id, "test/f1")) == [0, 1, 2]


def test_a_store_failing_mid_run_costs_one_warning_not_the_run(
    tracked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: the store accepts the run and its parameters, then fails on the first metrics
    real = mlflow.MlflowClient.log_batch

    def failing(self: Any, run_id: str, metrics: Any = (), **kwargs: Any) -> Any:
        if metrics:
            raise mlflow.exceptions.MlflowException("database is locked")
        return real(self, run_id, metrics=metrics, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "log_batch", failing)
    caplog.set_level(logging.WARNING, logger="networkfed.monitoring.tracking")

    # Execute
    result = run_federated(tiny_config(mlflow=str(tracked["store"])), tiny_data(),
                           run_dir=tmp_path / "run")

    # Assert
    assert result.status == "complete"
    assert (tmp_path / "run" / "report.html").is_file()
    warnings = [r for r in caplog.records if "MLflow tracking stopped" in r.getMessage()]
    assert len(warnings) == 1
    assert "database is locked" in warnings[0].getMessage()


def test_tune_logs_each_trial_as_a_child_run(tracked, tmp_path: Path) -> None:
    # Execute
    study = tmp_path / "study"
    result = runner.invoke(app, ["tune", "--trials", "2", "--rounds", "1", "--rows-per-site",
                                 "300", "--no-pruning", "--quiet", "--study-dir", str(study),
                                 "--mlflow", str(tracked["store"])])
    assert result.exit_code == 0, result.output

    # Assert
    client = tracked["client"]
    parents = _runs(client, f"tags.`networkfed.study_dir` = '{study.resolve()}'")
    assert len(parents) == 1
    parent = parents[0]
    children = _runs(client, f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(c.data.tags["optuna.trial_number"] for c in children) == ["0", "1"]
    assert all(c.info.status == "FINISHED" for c in children)
    assert all(any(k.startswith("hparams.") for k in c.data.params) for c in children)
    best = max(c.data.metrics["val/f1"] for c in children)
    assert parent.data.metrics["best/val_f1"] == pytest.approx(best)
    assert parent.data.params["model"] == "cnn"
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "best_hyperparameters.json" in names


@pytest.mark.parametrize("command", [["simulate"], ["tune", "--trials", "1"]])
def test_without_mlflow_installed_asking_for_it_exits_2_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what find_spec sees when not installed

    result = runner.invoke(app, [*command, "--mlflow", str(tmp_path / "store")])

    assert result.exit_code == 2
    assert "pip install 'networkfed[mlflow]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "store").exists()


def test_an_unreachable_server_exits_2_before_any_folder_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the user's setting wins

    result = runner.invoke(app, ["simulate", "--run-dir", str(tmp_path / "run"),
                                 "--mlflow", "http://127.0.0.1:9"])

    assert result.exit_code == 2
    assert "'--mlflow'" in result.output
    assert "a reachable MLflow tracking store" in result.output
    assert not (tmp_path / "run").exists()


def test_where_a_store_setting_points() -> None:
    folder = tracking_store("some/folder")
    assert folder.uri == f"sqlite:///{Path('some/folder').resolve() / 'mlflow.db'}"
    assert folder.artifact_root == (Path("some/folder").resolve() / "artifacts").as_uri()
    assert tracking_store(None).uri.endswith("/mlruns/mlflow.db")
    for uri in ("http://tracking:5000", "sqlite:///runs.db", "databricks", "postgresql://x/y"):
        assert tracking_store(uri) == type(folder)(uri)


def test_the_config_file_key_makes_a_folder_absolute() -> None:
    config = build_run_config({"mlflow": "mlruns"}, {}, {})
    assert config.mlflow == str(Path("mlruns").resolve())
    assert build_run_config({"mlflow": "http://h:5000"}, {}, {}).mlflow == "http://h:5000"
