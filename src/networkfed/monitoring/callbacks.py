"""Callbacks that watch a run and write its run folder; the round loop never sees a file.

Order matters only for :class:`CheckpointCallback`: it saves every callback's state, so it
comes last (``networkfed.api`` composes them that way).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from networkfed.data.types import FederatedData
from networkfed.federated.callbacks import Callback, EngineView, RoundFeedback
from networkfed.federated.config import RunConfig
from networkfed.federated.results import RoundResult, RunResult
from networkfed.models import ModelManager
from networkfed.monitoring.files import atomic_write_text
from networkfed.monitoring.monitor import (
    ModelPerformanceMonitor,
    describe_issue,
    parameter_norm,
)
from networkfed.monitoring.run_folder import GLOBAL_MODEL_ID, METRICS_FILE
from networkfed.monitoring.run_writer import (
    jsonable,
    metric_rows,
    new_manifest,
    predictions_frame,
    train_rows,
    write_config,
    write_manifest,
    write_predictions,
    write_resume_state,
    write_site_layers,
    write_summary,
)

logger = logging.getLogger(__name__)

__all__ = ["CheckpointCallback", "MetricsFileCallback", "MonitorCallback", "RunFolderCallback"]


class MonitorCallback(Callback):
    """Feeds the :class:`ModelPerformanceMonitor` every round and logs what it finds.

    Tracks the overall test accuracy and loss, the global parameter norm and the convergence
    rate (relative drop of the loss since the previous round). Findings are logged as
    warnings when they change, and passed on to later callbacks as the ``monitor`` note.
    """

    def __init__(self, monitor: ModelPerformanceMonitor, model_id: str = GLOBAL_MODEL_ID) -> None:
        self.monitor, self.model_id = monitor, model_id
        self.previous_loss = math.nan
        self.initial_loss = math.nan
        self.reported: list[str] = []
        self._engine: EngineView | None = None

    def on_train_begin(self, engine: EngineView) -> None:
        self._engine = engine

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> RoundFeedback:
        if result.round_num == 0 or self._engine is None:  # round 0 is the untrained model
            self.previous_loss = float(result.overall["loss"])
            self.initial_loss = self.previous_loss
            if "rmse" in result.overall:
                self.previous_loss = 1.0
            return False, {}
        loss = float(result.overall["loss"])
        if "rmse" in result.overall and self.initial_loss > 0:
            # a RUL run's loss is a squared error in cycles (thousands at first): the monitor's
            # absolute limits are for cross-entropy, so it sees the loss relative to round 0
            loss = loss / self.initial_loss
        rate = (self.previous_loss - loss) / self.previous_loss if self.previous_loss > 0 else 0.0
        self.monitor.track_round_performance(self.model_id, result.round_num, {
            # a RUL run has no accuracy: the share of windows within +-10 cycles stands in
            "accuracy": result.overall.get("accuracy", result.overall.get("within_10")),
            "loss": loss,
            "parameter_norm": parameter_norm(self._engine.model.get_parameters()),
            "convergence_rate": rate if math.isfinite(rate) else 0.0,
        })
        self.previous_loss = loss
        findings = self.monitor.detect_training_issues(self.model_id)
        issues = list(findings.get("issues", []))
        if issues and issues != self.reported:
            logger.warning("round %d: training monitor: %s", result.round_num,
                           "; ".join(describe_issue(issue) for issue in issues))
        self.reported = issues
        return False, {"monitor": findings}

    def state_dict(self) -> dict[str, Any]:
        return {**self.monitor.state_dict(), "previous_loss": self.previous_loss,
                "initial_loss": self.initial_loss, "reported": self.reported}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.monitor.load_state_dict(state)
        self.previous_loss = float(state["previous_loss"])
        self.initial_loss = float(state.get("initial_loss", math.nan))
        self.reported = list(state["reported"])


class MetricsFileCallback(Callback):
    """``metrics.jsonl``: every site's and the overall test metrics of every round.

    The whole file is rewritten atomically each round (it is small), so it never holds a
    torn line; a resumed run first drops every row after the last saved round.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / METRICS_FILE
        self.rows: list[dict[str, Any]] = []
        self._sizes: dict[str, int] = {}

    def on_train_begin(self, engine: EngineView) -> None:
        self._sizes = {site: len(data.train) for site, data in engine.data.sites.items()}
        kept = engine.completed_round
        self.rows = [r for r in self._existing() if r["mode"] == "federated" and r["round"] <= kept]
        if kept >= 0:
            self._write()

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        self.rows += train_rows(result.round_num, result.train_metrics, self._sizes)
        rows = metric_rows(result.round_num, "federated", result.evaluation, validation=True)
        if result.privacy:  # the ε spent up to this round: the run's, and each site's
            rows = [{**row, **epsilon_fields(result.privacy, row["site"])} for row in rows]
        self.rows += rows
        self._write()

    def on_train_end(self, result: RunResult) -> None:
        baselines = result.baselines
        if baselines.centralized is not None:
            self.rows += metric_rows(result.rounds_completed, "centralized", baselines.centralized)
        if baselines.local is not None:
            self.rows += metric_rows(result.rounds_completed, "local", baselines.local)
        self._write()

    def _existing(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _write(self) -> None:
        atomic_write_text(self.path, "".join(json.dumps(row) + "\n" for row in self.rows))


def epsilon_fields(privacy: Mapping[str, Any], site: str) -> dict[str, Any]:
    """``epsilon`` and ``delta`` for a ``metrics.jsonl`` row: the run's on ``overall`` rows, a
    site's own under sample-level DP (each site protects its rows)."""
    per_site = privacy.get("per_site_epsilon") or {}
    if site != "overall" and site not in per_site:
        return {}
    epsilon = privacy["epsilon"] if site == "overall" else per_site[site]
    return {"epsilon": epsilon, "delta": privacy["delta"]}


class RunFolderCallback(Callback):
    """``config.toml``, ``manifest.json``, and at the end ``predictions.csv`` and
    ``summary.json``."""

    def __init__(self, run_dir: Path, config: RunConfig, data: FederatedData) -> None:
        self.run_dir, self.config = run_dir, config
        self.manifest = new_manifest(config, data.fingerprint)

    def on_train_begin(self, engine: EngineView) -> None:
        existing = self.run_dir / "manifest.json"
        if engine.completed_round >= 0 and existing.is_file():  # resumed: keep created_at etc.
            self.manifest = {**self.manifest, **json.loads(existing.read_text(encoding="utf-8"))}
            self.manifest.pop("error", None)
        else:
            write_config(self.run_dir, self.config)
        self.manifest = write_manifest(self.run_dir, self.manifest, status="running")

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        self.manifest = write_manifest(self.run_dir, self.manifest,
                                       rounds_completed=result.round_num)

    def on_train_end(self, result: RunResult) -> None:
        frames = [predictions_frame("federated", result.last.evaluation)]
        if result.baselines.centralized is not None:
            frames.append(predictions_frame("centralized", result.baselines.centralized))
        if result.baselines.local is not None:
            frames.append(predictions_frame("local", result.baselines.local))
        write_predictions(self.run_dir, frames)
        write_summary(self.run_dir, result.summary())
        self.manifest = write_manifest(self.run_dir, self.manifest, status=result.status,
                                       rounds_completed=result.rounds_completed)

    def mark(self, status: str, message: str) -> None:
        """Record that the run stopped without finishing (``failed`` or ``interrupted``)."""
        self.manifest = write_manifest(self.run_dir, self.manifest, status=status, error=message)


class CheckpointCallback(Callback):
    """Every round's global model through :class:`ModelManager`, plus the resume state (and,
    under FedBN / FedPer, every site's own layers of the round: ``site_layers/``).

    The snapshot metadata carries what ``predict`` and ``restore`` need from a single round:
    the overall test metrics, the preprocessing spec and the alarm threshold.
    """

    def __init__(self, manager: ModelManager, run_dir: Path, extra: Mapping[str, Any]) -> None:
        self.manager, self.run_dir, self.extra = manager, run_dir, dict(extra)
        self._engine: EngineView | None = None

    def on_train_begin(self, engine: EngineView) -> None:
        self._engine = engine

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        if self._engine is None:
            raise RuntimeError("CheckpointCallback.after_round before on_train_begin")
        extra = {**self.extra, "threshold": result.evaluation.threshold}
        if result.privacy:  # what a model of this round has spent, beside its weights
            extra["privacy"] = result.privacy
        site_layers = self._engine.site_layers
        if site_layers is not None:  # first: a saved round always has its sites' layers
            write_site_layers(self.run_dir, result.round_num, site_layers,
                              list(self._engine.data.site_ids))
        self.manager.save_model_state(
            GLOBAL_MODEL_ID, result.round_num, metrics=jsonable(result.overall),
            extra=jsonable(extra),
        )
        write_resume_state(self.run_dir, self._engine.snapshot())
