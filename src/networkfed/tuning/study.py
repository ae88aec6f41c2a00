"""An Optuna study of federated runs that lives in one folder and survives being killed.

The study is an SQLite file (``study.db``) in the study folder, so running ``networkfed tune``
again on the same folder continues it: finished trials (complete or pruned) count toward
``--trials``, and a trial that was running when the process died is marked failed (with the
trial numbers listed in the study's user attribute ``interrupted_trials``) and drawn again.

Resumed studies end where uninterrupted ones would: every trial gets a fresh
``TPESampler(seed=seed + k)``, ``k`` being the number of trials already drawn that were not
interrupted, and the sampler only learns from complete and pruned trials; the federated run of
every trial uses the study's seed, so trials differ only in their hyperparameters.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from networkfed.core.enums import ModelType
from networkfed.core.errors import ConfigError, TrainingError
from networkfed.data.config import DataConfig
from networkfed.data.types import FederatedData
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import (
    RunConfig,
    StrategyName,
    TreeStrategyName,
    runnable_model,
    with_model_window,
)
from networkfed.tuning.objective import FAIL_REASON_ATTR, make_objective
from networkfed.tuning.score import study_score
from networkfed.tuning.search_space import TUNABLE_MODELS

logger = logging.getLogger(__name__)

STUDY_DB, STUDY_NAME, SETTINGS_ATTR = "study.db", "networkfed", "networkfed_settings"
INTERRUPTED_ATTR = "interrupted_trials"
FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
TPE_STARTUP_TRIALS = 5
MAX_FAILURES_IN_A_ROW = 5


class StudySettings(BaseModel):
    """What defines a study; a folder holds one study, so these may not change on resume.

    ``--trials`` and ``--timeout`` are not settings: they say how much more to run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelType = ModelType.LSTM
    data: DataConfig = DataConfig()
    rounds: int = Field(default=5, ge=1)
    strategy: StrategyName | TreeStrategyName = "fedavg"
    """The strategy whose options are tuned (xgboost: ``xgb-bagging`` unless given)."""
    seed: int = 42
    pruning: bool = True
    min_fit_clients: int = Field(default=3, ge=1)

    @field_validator("model", mode="before")
    @classmethod
    def _parse_model(cls, value: object) -> ModelType:
        try:
            parsed = ModelType.parse(value)  # type: ignore[arg-type]
        except ValueError:
            parsed = runnable_model(value)  # raises, listing the models that can run
        if parsed not in TUNABLE_MODELS:
            raise ValueError(f"model {parsed.value!r} has no search space")
        return parsed

    @model_validator(mode="after")
    def _tree_strategy(self) -> StudySettings:
        # A run's own check: refuses a strategy that does not fit the model, and gives
        # xgboost xgb-bagging when no strategy was given.
        given = {"strategy": self.strategy} if "strategy" in self.model_fields_set else {}
        object.__setattr__(self, "strategy", RunConfig(model=self.model, **given).strategy)
        return self

    @model_validator(mode="after")
    def _model_window(self) -> StudySettings:
        # As in a run (RunConfig): an unset window length is the model's own.
        object.__setattr__(self, "data", with_model_window(self.data, self.model))
        return self


@dataclass(frozen=True)
class TrialEvent:
    """Told to the caller (the CLI's progress bar) after every trial of this session."""

    trial: FrozenTrial
    finished: int
    target: int
    best_value: float | None


def storage_url(study_dir: Path) -> str:
    """``sqlite:///<absolute path>/study.db``."""
    return f"sqlite:///{(study_dir / STUDY_DB).resolve()}"


def open_study(study_dir: str | Path, settings: StudySettings) -> optuna.Study:
    """Create the study in ``study_dir`` or load the one there, checking it is the same study.

    Raises
    ------
    ConfigError
        If the folder holds a study made with different settings (model, data, rounds, ...).
    """
    folder = Path(study_dir)
    folder.mkdir(parents=True, exist_ok=True)
    study = _load(optuna.storages.RDBStorage(storage_url(folder)), settings, seed=settings.seed)
    direction = study_score(settings.data.task).direction
    if study.direction.name.lower() != direction:  # a RUL study of a version that maximised
        raise ConfigError("study-dir", str(folder),  # minus the RMSE: its values are negated
                          f"a new folder (this study was made to {study.direction.name.lower()} "
                          f"its score; this version's studies {direction} it)")
    stored = study.user_attrs.get(SETTINGS_ATTR)
    wanted = settings.model_dump(mode="json")
    if stored is None:
        study.set_user_attr(SETTINGS_ATTR, wanted)
    elif stored != wanted:
        changed = sorted(key for key in wanted if stored.get(key) != wanted.get(key))
        expected = f"a new folder, or this study's settings ({_describe(stored, changed)})"
        raise ConfigError("study-dir", str(folder), expected)
    _fail_interrupted(study)
    return study


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Complete and pruned trials: the ones that count toward ``--trials``."""
    return study.get_trials(deepcopy=False, states=FINISHED_STATES)


def best_value(study: optuna.Study) -> float | None:
    """The best objective value so far, or ``None`` before the first complete trial."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return study.best_value if complete else None


def run_study(
    study_dir: str | Path,
    settings: StudySettings,
    n_trials: int,
    data: FederatedData,
    *,
    timeout: float | None = None,
    on_start: Callable[[int], None] | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    trial_callbacks: Callable[[optuna.Trial], Sequence[Callback]] | None = None,
) -> optuna.Study:
    """Run trials until ``n_trials`` have finished (counting earlier sessions) or time is up.

    Like Optuna's ``timeout``, the time limit is checked between trials: a running trial is
    never cut short. Trials that raise ``TrainingError`` (e.g. a diverging learning rate) or
    score NaN are recorded as failed and do not count. ``on_start`` gets the number of trials
    finished in earlier sessions; ``on_trial`` is called after each trial of this session;
    ``trial_callbacks(trial)`` adds callbacks to each trial's run (see ``make_objective``).

    Raises
    ------
    TrainingError
        After :data:`MAX_FAILURES_IN_A_ROW` failed trials in a row: the data or the settings,
        not the hyperparameters, are then the problem.
    """
    folder = Path(study_dir)
    with _exclusive(folder):
        study = open_study(folder, settings)
        storage = optuna.storages.RDBStorage(storage_url(folder))
        if on_start is not None:
            on_start(len(finished_trials(study)))
        objective = make_objective(settings, data, trial_callbacks)
        started, failures = time.monotonic(), 0
        while len(finished_trials(study)) < n_trials:
            if timeout is not None and time.monotonic() - started >= timeout:
                logger.info("timeout of %.0f s reached; stopping between trials", timeout)
                break
            study = _load(storage, settings, seed=settings.seed + _drawn(study))
            _run_one(study, objective)
            last = study.trials[-1]
            failures = failures + 1 if last.state == TrialState.FAIL else 0
            _check_failures(failures, last)
            if on_trial is not None:
                on_trial(TrialEvent(last, len(finished_trials(study)), n_trials, best_value(study)))
    return study


def _check_failures(failures: int, last: FrozenTrial) -> None:
    if failures >= MAX_FAILURES_IN_A_ROW:
        reason = last.user_attrs.get(FAIL_REASON_ATTR, "see the log")
        raise TrainingError(f"{failures} tuning trials failed in a row; the last: {reason}")


def _run_one(study: optuna.Study, objective: Callable[[optuna.Trial], float]) -> None:
    """One trial; on Ctrl-C the trial Optuna marked failed is recorded as interrupted."""
    try:
        study.optimize(objective, n_trials=1, catch=(TrainingError,))
    except KeyboardInterrupt:
        last = study.trials[-1] if study.trials else None
        if last is not None and last.state == TrialState.FAIL:
            study.set_user_attr(INTERRUPTED_ATTR, [*interrupted_trials(study), last.number])
        raise


def _load(
    storage: optuna.storages.BaseStorage, settings: StudySettings, *, seed: int
) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS)
    return optuna.create_study(
        storage=storage,
        sampler=sampler,
        pruner=_pruner(settings),
        study_name=STUDY_NAME,
        direction=study_score(settings.data.task).direction,
        load_if_exists=True,
    )


def _pruner(settings: StudySettings) -> optuna.pruners.BasePruner:
    """Median pruning once two trials have finished.

    Steps are round numbers (round 0, the untrained model, is never reported); Optuna prunes
    when ``step >= n_warmup_steps``, so a trial can be stopped from its first round on.
    """
    if not settings.pruning:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def interrupted_trials(study: optuna.Study) -> list[int]:
    """Numbers of the trials a killed process left behind (marked failed on resume)."""
    return list(study.user_attrs.get(INTERRUPTED_ATTR, []))


def _drawn(study: optuna.Study) -> int:
    """Trials drawn so far that were not interrupted: the sampler seed offset."""
    return len(study.trials) - len(interrupted_trials(study))


def _fail_interrupted(study: optuna.Study) -> None:
    """Mark trials left ``RUNNING`` by a killed process as failed, so they are drawn again."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return
    for trial in running:
        study.tell(trial.number, state=TrialState.FAIL)
        logger.warning("trial %d was interrupted; it will be drawn again", trial.number)
    numbers = interrupted_trials(study) + [trial.number for trial in running]
    study.set_user_attr(INTERRUPTED_ATTR, numbers)


def _describe(stored: dict[str, Any], changed: list[str]) -> str:
    return "; ".join(f"{key}={stored.get(key)!r}" for key in changed)


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold a lock on the study folder: two ``tune`` processes on one folder would mark each
    other's running trial as interrupted."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, run one at a time
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError("study-dir", str(folder), "a folder no other tune is using") from None
        yield
