"""What a study leaves in its folder: the best hyperparameters, plots and a trial table.

``best_hyperparameters.json`` is the hand-off to ``networkfed simulate --hparams FILE``: its
``hparams`` are ``RunConfig.hparams`` (model overrides for ``ModelFactory.create_model`` plus
training overrides for ``training_config``), and ``local_epochs``, ``strategy`` and
``strategy_options`` are the ``RunConfig`` fields of the same names (see
:func:`networkfed.tuning.hparams.apply_hparams`).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from networkfed.monitoring.files import atomic_path, atomic_write_text
from networkfed.tuning.score import StudyScore, study_score
from networkfed.tuning.search_space import hyperparameters_from_params
from networkfed.tuning.study import SETTINGS_ATTR, StudySettings

logger = logging.getLogger(__name__)

BEST_FILE, TRIALS_FILE = "best_hyperparameters.json", "trials.csv"
HISTORY_PLOT, IMPORTANCE_PLOT = "history.png", "importance.png"
FORMAT_VERSION = 1


def complete_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def best_hyperparameters(study: optuna.Study) -> dict[str, Any] | None:
    """The document ``best_hyperparameters.json`` holds, or ``None`` with no complete trial."""
    if not complete_trials(study):
        return None
    settings = StudySettings.model_validate(study.user_attrs[SETTINGS_ATTR])
    best = study.best_trial
    chosen = hyperparameters_from_params(best.params, settings.model, settings.strategy)
    return {
        "format_version": FORMAT_VERSION,
        "model": settings.model.value,
        "model_overrides": chosen.model_overrides,
        "training_overrides": chosen.training_overrides,
        "hparams": chosen.hparams,
        "local_epochs": chosen.local_epochs,
        "strategy": settings.strategy,
        "strategy_options": chosen.strategy_options,
        "best_value": best.value,
        "objective": study_score(settings.data.task).objective,
        "best_trial": best.number,
        "rounds": settings.rounds,
        "seed": settings.seed,
        "data": settings.data.model_dump(mode="json", exclude_none=True),
        "params": best.params,
    }


def write_best_hyperparameters(study: optuna.Study, study_dir: Path) -> Path | None:
    """Write ``best_hyperparameters.json`` atomically; ``None`` when no trial completed."""
    document = best_hyperparameters(study)
    if document is None:
        return None
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    return atomic_write_text(study_dir / BEST_FILE, text)


def score_of(study: optuna.Study) -> StudyScore:
    """What ``study`` optimises: from the settings it was created with, or from its
    direction when it has none (a study made outside ``networkfed tune``)."""
    stored = study.user_attrs.get(SETTINGS_ATTR)
    if stored is None:
        return study_score("rul" if study.direction.name == "MINIMIZE" else "classification")
    return study_score(StudySettings.model_validate(stored).data.task)


def top_trials(study: optuna.Study, limit: int = 5) -> list[FrozenTrial]:
    """Complete trials, best first (highest F1 or lowest RMSE; ties by trial number)."""
    score = score_of(study)
    ranked = sorted(complete_trials(study),
                    key=lambda trial: (score.ranking_key(float(trial.value)), trial.number))
    return ranked[:limit]


def write_trials_table(study: optuna.Study, study_dir: Path) -> Path:
    """Every trial (number, state, value, duration, params) as ``trials.csv``."""
    rows = [_trial_row(trial) for trial in study.trials]
    with atomic_path(study_dir / TRIALS_FILE) as temp:
        pd.DataFrame(rows).to_csv(temp, index=False)
    return study_dir / TRIALS_FILE


def write_plots(study: optuna.Study, study_dir: Path, seed: int) -> dict[str, Path | str]:
    """History and importance plots; a plot that cannot be drawn yet maps to the reason."""
    written: dict[str, Path | str] = {}
    if not study.trials:
        return {HISTORY_PLOT: "no trials yet"}
    target_name = score_of(study).label
    written[HISTORY_PLOT] = _save(
        study_dir / HISTORY_PLOT,
        lambda: optuna.visualization.matplotlib.plot_optimization_history(
            study, target_name=target_name
        ),
    )
    if len(complete_trials(study)) < 2:
        written[IMPORTANCE_PLOT] = "needs at least 2 completed trials"
        return written
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    try:
        written[IMPORTANCE_PLOT] = _save(
            study_dir / IMPORTANCE_PLOT,
            lambda: optuna.visualization.matplotlib.plot_param_importances(
                study, evaluator=evaluator, target_name=target_name
            ),
        )
    except RuntimeError as error:  # fANOVA: every complete trial scored the same
        plt.close("all")
        logger.info("no importance plot: %s", error)
        written[IMPORTANCE_PLOT] = "undefined while every complete trial has the same score"
    return written


def _save(path: Path, draw: Any) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = draw()
    figure = axes.figure
    figure.set_size_inches(8, 5)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=100)
    plt.close(figure)
    return path


def _trial_row(trial: FrozenTrial) -> dict[str, Any]:
    duration = trial.duration.total_seconds() if trial.duration is not None else math.nan
    last_step = trial.last_step
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value if trial.value is not None else math.nan,
        "last_round": last_step if last_step is not None else math.nan,
        "duration_seconds": duration,
        **{f"param.{key}": value for key, value in trial.params.items()},
    }
