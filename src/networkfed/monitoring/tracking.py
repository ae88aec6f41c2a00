"""Experiment tracking in MLflow: every run, in the tracker a team already uses.

:class:`MlflowCallback` logs a federated run as one MLflow run: its settings as parameters,
every round's overall, validation and per-site metrics (step = round), the baselines and the
best round, and at the end the run folder's report, plots and files, plus the final global
model with its preprocessing as a folder ``networkfed predict --run`` reads back. A tuning
study is a parent run whose trials are child runs (:mod:`networkfed.tuning.tracking`).

MLflow is the optional extra ``networkfed[mlflow]`` and is imported only when tracking is
asked for. Where runs go (:func:`tracking_store`): a plain folder (``mlruns`` by default)
becomes an SQLite store ``FOLDER/mlflow.db`` with artifacts in ``FOLDER/artifacts`` — MLflow 3
refuses its old file store unless told otherwise, and SQLite is what it recommends; anything
with a scheme (``http://``, ``sqlite:///``, ``databricks``, ...) goes to MLflow unchanged.
Tracking never stops training: a store that fails mid-run is reported once and left alone.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from networkfed.core.errors import ConfigError
from networkfed.federated.callbacks import Callback, EngineView
from networkfed.federated.config import is_tracking_uri
from networkfed.federated.results import RoundResult, RunResult

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_STORE",
    "MlflowCallback",
    "TrackingStore",
    "flat_params",
    "require_mlflow",
    "round_metrics",
    "tracking_store",
]

DEFAULT_STORE = "mlruns"
"""``--mlflow`` without a value: this folder, relative to the working directory."""
EXPERIMENT_ENV, DEFAULT_EXPERIMENT = "MLFLOW_EXPERIMENT_NAME", "networkfed"
MODEL_ARTIFACT = "model"
"""The artifact folder with the final global model, laid out as a run folder."""
RUN_FILES = ("report.html", "summary.json", "config.toml", "manifest.json", "metrics.jsonl")


@dataclass(frozen=True)
class TrackingStore:
    """Where MLflow keeps runs: its tracking URI and, for a local folder, the artifact root."""

    uri: str
    artifact_root: str | None = None


def tracking_store(value: str | None) -> TrackingStore:
    """The store ``--mlflow VALUE`` means (``None`` or empty: :data:`DEFAULT_STORE`)."""
    value = (value or "").strip() or DEFAULT_STORE
    if is_tracking_uri(value):
        return TrackingStore(value)
    folder = Path(value).expanduser().resolve()
    return TrackingStore(f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri())


def require_mlflow(option: str = "--mlflow") -> None:
    """A one-line error naming the extra when MLflow is not installed (exit code 2)."""
    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(option, "mlflow", "MLflow installed: pip install 'networkfed[mlflow]'")


def open_store(store: TrackingStore, option: str = "--mlflow") -> tuple[Any, str]:
    """An ``MlflowClient`` on ``store`` and the experiment's id (created when missing)."""
    require_mlflow(option)
    from mlflow import MlflowClient

    name = os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
    if store.artifact_root is not None:
        Path(store.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        client = MlflowClient(tracking_uri=store.uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return client, experiment.experiment_id
        return client, client.create_experiment(name, artifact_location=store.artifact_root)
    except Exception as error:  # MLflow raises many kinds: a bad URI, an unreachable server
        raise ConfigError(option, store.uri,
                          f"a reachable MLflow tracking store ({error})") from None


def flat_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow parameters: ``{"data": {"dataset": ...}}`` -> ``data.dataset``.

    Unset values (``None``) are left out: MLflow parameters are strings and cannot change.
    """
    params: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            params.update(flat_params(value, f"{name}."))
        elif value is not None:
            params[name] = str(value)
    return params


def _metric_key(text: str) -> str:
    """MLflow keys allow letters, digits, ``_ - . / :`` and spaces; site names may not."""
    return "".join(c if c.isalnum() or c in "_-./: " else "_" for c in str(text))


def _numbers(values: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """Finite numeric entries (an undefined metric, e.g. ROC-AUC of a site without failures,
    is NaN: left out rather than logged as a number)."""
    out = {}
    for key, value in values.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and math.isfinite(float(value)):
            out[f"{prefix}{_metric_key(key)}"] = float(value)
    return out


def round_metrics(result: RoundResult) -> dict[str, float]:
    """One round's metrics under MLflow keys: ``test/f1``, ``val/pr_auc``,
    ``site/<site>/f1`` (test), ``site/<site>/train_loss``, ``round_seconds``, ..."""
    evaluation = result.evaluation
    metrics = {**_numbers(evaluation.overall, "test/"), **_numbers(evaluation.validation, "val/")}
    for site, values in evaluation.per_site.items():
        metrics.update(_numbers(values, f"site/{_metric_key(site)}/"))
    for site, values in result.train_metrics.items():
        metrics.update(_numbers(values, f"site/{_metric_key(site)}/"))
    metrics["sites_trained"] = float(len(result.trained))
    metrics["round_seconds"] = float(result.seconds)
    return metrics


def _end_metrics(result: RunResult) -> dict[str, float]:
    """What only the end knows: the best round and the baselines."""
    metrics = {"best_round": float(result.best_round)}
    baselines = result.summary().get("baselines", {})
    metrics.update(_numbers(baselines.get("centralized", {}), "baseline/centralized/"))
    metrics.update(_numbers(baselines.get("local_overall", {}), "baseline/local/overall/"))
    for site, values in baselines.get("local", {}).items():
        metrics.update(_numbers(values, f"baseline/local/{_metric_key(site)}/"))
    return metrics


_STATUS = {"complete": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


class MlflowCallback(Callback):
    """Logs a federated run to MLflow as one run (a child run under ``parent_run_id``).

    Parameters
    ----------
    store
        From :func:`tracking_store`.
    run_dir
        The run folder (tagged ``networkfed.run_dir``; its files are logged at the end).
    run_name
        The MLflow run's name (default: the run folder's name, else MLflow's).
    parent_run_id
        Makes this run a child (a tuning trial under its study's run).
    tags
        Extra tags of the run.

    The MLflow run's id is part of the callback's state, so ``--resume`` continues the same
    MLflow run rather than starting a second one.
    """

    def __init__(
        self,
        store: TrackingStore,
        *,
        run_dir: Path | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.store, self.run_name, self.parent_run_id = store, run_name, parent_run_id
        self.run_dir = Path(run_dir).resolve() if run_dir is not None else None
        self.tags = dict(tags or {})
        self.run_id: str | None = None
        self._client: Any = None

    # --- the run's life -----------------------------------------------------------------------
    def on_train_begin(self, engine: EngineView) -> None:
        self._client, experiment_id = open_store(self.store)
        if self.run_id is not None and self._exists(self.run_id):
            self._client.update_run(self.run_id, status="RUNNING")
            return
        from networkfed.monitoring.run_writer import config_dict

        tags = {**self.tags, **({"mlflow.parentRunId": self.parent_run_id}
                                if self.parent_run_id else {})}
        if self.run_dir is not None:
            tags["networkfed.run_dir"] = str(self.run_dir)
        name = self.run_name or (self.run_dir.name if self.run_dir is not None else None)
        run = self._client.create_run(experiment_id, run_name=name, tags=tags)
        self.run_id = run.info.run_id
        self._log(params=flat_params(config_dict(engine.config)))

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        self._log(metrics=round_metrics(result), step=result.round_num)
        if "pruned" in notes:
            self._safely(self._client.set_tag, self.run_id, "networkfed.pruned_at_round",
                         str(result.round_num))

    def on_train_end(self, result: RunResult) -> None:
        self._log(metrics=_end_metrics(result), step=result.rounds_completed)

    def on_run_end(self, status: str, run_dir: Path | None) -> None:
        if self._client is None or self.run_id is None:
            return
        if status == "complete" and run_dir is not None:
            self._safely(self._log_run_folder, Path(run_dir))
        self._safely(self._client.set_terminated, self.run_id, _STATUS.get(status, "FAILED"))
        self._client = None

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id} if self.run_id else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.run_id = state.get("run_id")

    # --- artifacts ----------------------------------------------------------------------------
    def _log_run_folder(self, run_dir: Path) -> None:
        """The report, plots and files, and the final model as a folder ``predict`` reads."""
        for name in RUN_FILES:
            if (run_dir / name).is_file():
                self._client.log_artifact(self.run_id, str(run_dir / name))
        if (run_dir / "plots").is_dir():
            self._client.log_artifacts(self.run_id, str(run_dir / "plots"), "plots")
        with tempfile.TemporaryDirectory(prefix="networkfed-model-") as scratch:
            if model_folder(run_dir, Path(scratch)):
                self._client.log_artifacts(self.run_id, scratch, MODEL_ARTIFACT)

    # --- plumbing -----------------------------------------------------------------------------
    def _exists(self, run_id: str) -> bool:
        try:
            self._client.get_run(run_id)
        except Exception:  # deleted, or another store: start a new run
            logger.warning("MLflow run %s is not in %s: logging to a new run", run_id,
                           self.store.uri)
            return False
        return True

    def _log(self, *, params: Mapping[str, str] | None = None,
             metrics: Mapping[str, float] | None = None, step: int = 0) -> None:
        from mlflow.entities import Metric, Param

        if self._client is None or self.run_id is None:
            return
        now = int(time.time() * 1000)
        entries = [Param(k, v) for k, v in (params or {}).items()]
        for start in range(0, len(entries), 100):  # MLflow's limit per batch
            self._safely(self._client.log_batch, self.run_id, params=entries[start:start + 100])
        values = [Metric(k, v, now, step) for k, v in (metrics or {}).items()]
        for start in range(0, len(values), 1000):
            self._safely(self._client.log_batch, self.run_id, metrics=values[start:start + 1000])

    def _safely(self, call: Any, *args: Any, **kwargs: Any) -> None:
        """Tracking never stops training: the first failure is reported, then tracking stops."""
        if self._client is None:
            return
        try:
            call(*args, **kwargs)
        except Exception as error:
            logger.warning("MLflow tracking stopped (%s): %s", self.store.uri, error)
            self._client = None


def model_folder(run_dir: Path, into: Path) -> bool:
    """Copy what ``networkfed predict --run`` needs for the final round into ``into``.

    That is ``config.toml``, the global model's ``model.json`` and the last round's snapshot
    (weights and metadata with the preprocessing and alarm threshold), plus that round's
    per-site layers after a FedBN / FedPer run. Returns False when the run saved no round.
    """
    from networkfed.monitoring.run_folder import (
        CHECKPOINTS_DIR,
        CONFIG_FILE,
        GLOBAL_MODEL_ID,
        site_layers_file,
    )
    from networkfed.trees.checkpoint import TREE_CHECKPOINTS, tree_rounds

    boosters = tree_rounds(run_dir)
    if boosters:  # an xgboost run: the last round's booster and its metadata
        target = into / CHECKPOINTS_DIR / TREE_CHECKPOINTS
        target.mkdir(parents=True)
        for suffix in (".json", ".meta.json"):
            name = f"round_{boosters[-1]:04d}{suffix}"
            shutil.copy2(run_dir / CHECKPOINTS_DIR / TREE_CHECKPOINTS / name, target / name)
        if (run_dir / CONFIG_FILE).is_file():
            shutil.copy2(run_dir / CONFIG_FILE, into / CONFIG_FILE)
        return True
    source = run_dir / CHECKPOINTS_DIR / GLOBAL_MODEL_ID
    rounds = sorted(source.glob("round_*.json"))
    if not rounds:
        return False
    last = rounds[-1].stem
    target = into / CHECKPOINTS_DIR / GLOBAL_MODEL_ID
    target.mkdir(parents=True)
    for path in [source / "model.json", *source.glob(f"{last}.*")]:
        if path.is_file():
            shutil.copy2(path, target / path.name)
    if (run_dir / CONFIG_FILE).is_file():
        shutil.copy2(run_dir / CONFIG_FILE, into / CONFIG_FILE)
    layers = site_layers_file(run_dir, int(last.split("_")[1]))
    if layers.is_file():
        (into / layers.parent.name).mkdir()
        shutil.copy2(layers, into / layers.parent.name / layers.name)
    return True

