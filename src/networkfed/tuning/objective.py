"""One tuning trial: a federated simulation scored on validation data only.

The score of a trial is the failure-class F1 of the final round's global model on every
site's validation windows, pooled, at the alarm threshold chosen on those same windows (the
engine's ``evaluation.validation``); for a remaining-life study (``task = "rul"``) it is the
pooled validation RMSE, minimised (:mod:`networkfed.tuning.score`). Test windows are never
looked at, so a study cannot select hyperparameters by the numbers it will later report.

Pruning happens inside the round loop: a callback reports each round's validation score to the
trial and, when the pruner says so, asks the engine to stop after that round (the engine's
early-stopping path), after which the trial is marked pruned.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna

from networkfed.api import run_federated
from networkfed.core.errors import TrainingError
from networkfed.data.types import FederatedData
from networkfed.federated.callbacks import Callback, RoundFeedback
from networkfed.federated.config import RunConfig
from networkfed.federated.results import RoundResult
from networkfed.tuning.score import F1_SCORE, StudyScore, study_score
from networkfed.tuning.search_space import TrialHyperparameters, suggest_hyperparameters

if TYPE_CHECKING:
    from networkfed.tuning.study import StudySettings

logger = logging.getLogger(__name__)

FAIL_REASON_ATTR = "fail_reason"


class ValidationPruning(Callback):
    """Reports each round's pooled validation score (F1, or a RUL study's RMSE) to an Optuna
    trial; stops pruned trials.

    Round 0 (the untrained initial model) is not reported: every trial starts from the same
    seed, so it carries no information about the hyperparameters.
    """

    def __init__(self, trial: optuna.Trial, score: StudyScore = F1_SCORE) -> None:
        self.trial, self.score = trial, score
        self.pruned_at: int | None = None
        self.last_value = math.nan

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> RoundFeedback | None:
        if result.round_num == 0:
            return None
        self.last_value = validation_score(result, self.score)
        if math.isfinite(self.last_value):
            self.trial.report(self.last_value, step=result.round_num)
        if self.trial.should_prune():
            self.pruned_at = result.round_num
            return True, {"pruned": f"trial {self.trial.number} pruned at round {result.round_num}"}
        return None


def validation_score(result: RoundResult, score: StudyScore = F1_SCORE) -> float:
    """The pooled validation ``score`` (F1, or RMSE in cycles) of a round's global model;
    NaN when undefined."""
    value = result.evaluation.validation.get(score.key)
    return math.nan if value is None else float(value)


def trial_config(
    settings: StudySettings, chosen: TrialHyperparameters, run_dir: Any = None
) -> RunConfig:
    """The ``RunConfig`` of one trial: the study's fixed settings plus the trial's point."""
    return RunConfig(
        data=settings.data,
        model=settings.model,
        hparams=chosen.hparams,
        rounds=settings.rounds,
        local_epochs=chosen.local_epochs,
        strategy=settings.strategy,
        strategy_options=chosen.strategy_options,
        min_fit_clients=settings.min_fit_clients,
        seed=settings.seed,
        run_dir=run_dir,
    )


def make_objective(
    settings: StudySettings,
    data: FederatedData,
    trial_callbacks: Callable[[optuna.Trial], Sequence[Callback]] | None = None,
) -> Callable[[optuna.Trial], float]:
    """The function Optuna optimises (maximises F1, minimises a RUL study's RMSE); ``data``
    is loaded once and shared by every trial.

    ``trial_callbacks(trial)`` adds callbacks to a trial's run once its point is drawn (e.g.
    experiment tracking: one child run per trial).
    """
    score = study_score(settings.data.task)

    def objective(trial: optuna.Trial) -> float:
        chosen = suggest_hyperparameters(trial, settings.model, settings.strategy)
        pruning = ValidationPruning(trial, score)
        extra = list(trial_callbacks(trial)) if trial_callbacks is not None else []
        try:
            run_federated(trial_config(settings, chosen), data, callbacks=[pruning, *extra])
        except TrainingError as error:  # e.g. every site diverged: these settings failed
            trial.set_user_attr(FAIL_REASON_ATTR, str(error))
            raise
        if pruning.pruned_at is not None:
            logger.info("trial %d pruned after round %d", trial.number, pruning.pruned_at)
            raise optuna.TrialPruned(f"{score.label} {pruning.last_value:.4f} "
                                     f"{score.worse_side} the median")
        if not math.isfinite(pruning.last_value):  # Optuna records a NaN score as a failure
            trial.set_user_attr(FAIL_REASON_ATTR, f"{score.label} is not a number")
        logger.info("trial %d: %s %.4f", trial.number, score.label, pruning.last_value)
        return pruning.last_value

    return objective
