"""The study: runs to the requested count, resumes where it stopped, scores on validation only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from networkfed.core.errors import ConfigError, TrainingError
from networkfed.data import DataConfig, load_federated_data
from networkfed.federated.evaluation import Evaluation
from networkfed.federated.results import RoundResult
from networkfed.models import ModelFactory, split_overrides
from networkfed.tuning import objective as objective_module
from networkfed.tuning.objective import ValidationPruning
from networkfed.tuning.outputs import (
    BEST_FILE,
    HISTORY_PLOT,
    IMPORTANCE_PLOT,
    write_best_hyperparameters,
    write_plots,
)
from networkfed.tuning.score import RMSE_SCORE
from networkfed.tuning.study import (
    MAX_FAILURES_IN_A_ROW,
    STUDY_NAME,
    StudySettings,
    finished_trials,
    interrupted_trials,
    open_study,
    run_study,
    storage_url,
)
from tiny_runs import tiny_data

TRIALS, ROUNDS = 3, 2


@pytest.fixture(scope="module")
def settings() -> StudySettings:
    return StudySettings(model="cnn", data=tiny_data(), rounds=ROUNDS, seed=5)


@pytest.fixture(scope="module")
def data(settings: StudySettings):
    return load_federated_data(settings.data, settings.seed)


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory: pytest.TempPathFactory, settings, data) -> Path:
    folder = tmp_path_factory.mktemp("study")
    run_study(folder, settings, TRIALS, data)
    return folder


def trial_points(study: optuna.Study) -> list[tuple[dict, float | None, str]]:
    """What each finished trial tried and scored, in order (interrupted ones left out)."""
    return [(t.params, t.value, t.state.name) for t in finished_trials(study)]


@pytest.mark.slow
def test_study_runs_the_requested_trials_and_writes_its_outputs(
    finished_study: Path, settings: StudySettings
) -> None:
    # Execute
    study = open_study(finished_study, settings)
    best_path = write_best_hyperparameters(study, finished_study)
    plots = write_plots(study, finished_study, settings.seed)

    # Assert
    assert len(finished_trials(study)) == TRIALS
    assert (finished_study / "study.db").is_file()
    best = json.loads(best_path.read_text())
    assert best_path.name == BEST_FILE
    assert best["best_value"] == pytest.approx(study.best_value)
    assert best["model"] == "cnn" and best["rounds"] == ROUNDS
    model_part, train_part = split_overrides("cnn", best["hparams"])
    assert model_part == best["model_overrides"] and train_part == best["training_overrides"]
    assert ModelFactory.create_model("cnn", 10, 2, **best["model_overrides"]).num_parameters() > 0
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert plots[HISTORY_PLOT] == finished_study / HISTORY_PLOT
    assert (finished_study / HISTORY_PLOT).stat().st_size > 1000
    if len(complete) >= 2:
        assert (finished_study / IMPORTANCE_PLOT).stat().st_size > 1000
    else:
        assert "at least 2" in str(plots[IMPORTANCE_PLOT])


@pytest.mark.slow
def test_interrupted_study_resumes_to_the_same_trials_as_an_uninterrupted_one(
    tmp_path: Path, finished_study: Path, settings: StudySettings, data
) -> None:
    # Prepare: one finished trial, then a trial left RUNNING as a killed process leaves it
    run_study(tmp_path, settings, 1, data)
    left_running = open_study(tmp_path, settings).ask()

    # Execute
    resumed = run_study(tmp_path, settings, TRIALS, data)

    # Assert
    assert interrupted_trials(resumed) == [left_running.number]
    assert resumed.trials[left_running.number].state == TrialState.FAIL
    assert trial_points(resumed) == trial_points(open_study(finished_study, settings))


def test_a_study_folder_refuses_other_settings(finished_study: Path, settings) -> None:
    # Prepare
    other = settings.model_copy(update={"rounds": ROUNDS + 1})

    # Execute / Assert
    with pytest.raises(ConfigError, match="rounds=2"):
        open_study(finished_study, other)


def test_zero_timeout_starts_no_trial(tmp_path: Path, settings, data) -> None:
    # Execute
    study = run_study(tmp_path, settings, TRIALS, data, timeout=0)

    # Assert
    assert study.trials == []
    assert write_best_hyperparameters(study, tmp_path) is None
    assert write_plots(study, tmp_path, 0) == {HISTORY_PLOT: "no trials yet"}


def test_study_settings_refuse_a_model_without_search_space() -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match="no search space"):
        StudySettings(model="custom")


def test_pruning_callback_reports_validation_never_test_scores() -> None:
    # Prepare: validation and test F1 differ, so the reported value tells which was used
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    callback = ValidationPruning(trial)
    rounds = [
        RoundResult(r, Evaluation(0.5, {}, {"f1": 0.9}, {"f1": 0.1 * r})) for r in range(3)
    ]

    # Execute
    feedback = [callback.after_round(result, {}) for result in rounds]

    # Assert
    frozen = study.trials[0]
    assert frozen.intermediate_values == {1: pytest.approx(0.1), 2: pytest.approx(0.2)}
    assert feedback == [None, None, None]
    assert callback.last_value == pytest.approx(0.2) and not math.isnan(callback.last_value)


def test_a_study_whose_trials_keep_failing_stops_with_the_reason(
    tmp_path: Path, settings: StudySettings, data, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: every federated run fails the way a diverging one does
    def diverging(*_: object, **__: object) -> None:
        raise TrainingError("round 1: only 0 site(s) left (3 rejected)")

    monkeypatch.setattr(objective_module, "run_federated", diverging)

    # Execute / Assert
    with pytest.raises(TrainingError, match=r"5 tuning trials failed in a row.*3 rejected"):
        run_study(tmp_path, settings, TRIALS, data)
    study = open_study(tmp_path, settings)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * MAX_FAILURES_IN_A_ROW
    assert finished_trials(study) == []


def test_importance_plot_needs_scores_that_differ(tmp_path: Path) -> None:
    # Prepare: two complete trials with the same score (fANOVA has nothing to explain)
    study = optuna.create_study(direction="maximize")
    distribution = optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)
    for rate in (1e-3, 2e-3):
        study.add_trial(optuna.trial.create_trial(
            params={"learning_rate": rate}, distributions={"learning_rate": distribution},
            value=0.5,
        ))

    # Execute
    plots = write_plots(study, tmp_path, seed=0)

    # Assert
    assert plots[HISTORY_PLOT] == tmp_path / HISTORY_PLOT
    assert "same score" in str(plots[IMPORTANCE_PLOT])
    assert not (tmp_path / IMPORTANCE_PLOT).exists()


def test_a_rul_study_minimises_the_validation_rmse_and_refuses_an_old_maximising_folder(
    tmp_path: Path,
) -> None:
    # Prepare: RUL settings, and a folder whose study maximises (as older versions made them)
    settings = StudySettings(model="lstm", data=DataConfig(dataset="cmapss", task="rul"))
    old = tmp_path / "old"
    old.mkdir()
    optuna.create_study(storage=storage_url(old), study_name=STUDY_NAME, direction="maximize")
    trial = optuna.create_study(direction="minimize").ask()
    pruning = ValidationPruning(trial, RMSE_SCORE)

    # Execute
    study = open_study(tmp_path / "new", settings)
    pruning.after_round(RoundResult(1, Evaluation(math.nan, {}, {"rmse": 9.0},
                                                  {"rmse": 12.5})), {})

    # Assert: the RMSE itself is the score, minimised; the old folder is refused in one line
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert pruning.last_value == pytest.approx(12.5)
    with pytest.raises(ConfigError, match=r"a new folder .*maximize"):
        open_study(old, settings)
