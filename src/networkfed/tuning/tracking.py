"""A tuning study in MLflow: one parent run for the session, one child run per trial.

Each trial's child run is an ordinary federated run's tracking
(:class:`~networkfed.monitoring.tracking.MlflowCallback`): its settings — the trial's
hyperparameters among them — and its metrics round by round; a pruned trial is tagged with
the round it stopped at. The parent holds the study's fixed settings, the best validation
score (``best/val_f1``, or ``best/val_rmse`` for a RUL study) and hyperparameters so far,
and the study's outputs (``best_hyperparameters.json``, plots, the trial table) as
artifacts. Running the same command again continues the study (Optuna)
and starts a new parent run for the new trials.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna

from networkfed.federated.callbacks import Callback
from networkfed.monitoring.tracking import (
    MlflowCallback,
    TrackingStore,
    flat_params,
    open_store,
)
from networkfed.tuning.score import study_score
from networkfed.tuning.study import StudySettings

__all__ = ["StudyTracking"]

_STATUS = {"complete": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


class StudyTracking:
    """The parent MLflow run of a tuning session, and the callbacks of its trials."""

    def __init__(self, store: TrackingStore, study_dir: Path, settings: StudySettings) -> None:
        from mlflow.entities import Param

        self.store = store
        self.client, experiment_id = open_store(store)
        tags = {"networkfed.study_dir": str(Path(study_dir).resolve())}
        run = self.client.create_run(experiment_id, run_name=f"study-{Path(study_dir).name}",
                                     tags=tags)
        self.run_id: str = run.info.run_id
        self.score = study_score(settings.data.task)
        params = flat_params(settings.model_dump(mode="json"))
        self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in params.items()])

    def trial_callbacks(self, trial: optuna.Trial) -> list[Callback]:
        """A child run for ``trial``."""
        tags = {"optuna.trial_number": str(trial.number)}
        return [MlflowCallback(self.store, run_name=f"trial-{trial.number}",
                               parent_run_id=self.run_id, tags=tags)]

    def finish(self, study: optuna.Study | None, outputs: Mapping[str, Any] | None,
               status: str = "complete") -> None:
        """Log the study's result and outputs to the parent run and end it."""
        from mlflow.entities import Metric

        if study is not None:
            now = int(time.time() * 1000)
            counts: dict[str, int] = {}
            for trial in study.trials:
                counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
            metrics = [Metric(f"trials/{state}", float(n), now, 0) for state, n in counts.items()]
            complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            if complete:
                metrics.append(Metric(f"best/val_{self.score.key}", float(study.best_value),
                                      now, 0))
                self.client.set_tag(self.run_id, "best_trial", str(study.best_trial.number))
                for name, value in study.best_params.items():
                    self.client.set_tag(self.run_id, f"best.{name}", str(value))
            self.client.log_batch(self.run_id, metrics=metrics)
        for where in _output_paths(outputs or {}):
            self.client.log_artifact(self.run_id, str(where))
        self.client.set_terminated(self.run_id, _STATUS.get(status, "FAILED"))


def _output_paths(outputs: Mapping[str, Any]) -> list[Path]:
    """The study's output files (``_write_outputs`` of the tune command), those that exist."""
    found: list[Path] = []
    for value in outputs.values():
        values = value.values() if isinstance(value, Mapping) else [value]
        found += [Path(v) for v in values if v is not None and Path(v).is_file()]
    return found
