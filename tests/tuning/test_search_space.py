"""The search space: every point it draws is accepted by the model, trainer and strategy."""

from __future__ import annotations

import optuna
import pytest

from networkfed.federated.strategies import STRATEGY_OPTIONS, build_strategy
from networkfed.models import BEST_HYPERPARAMETERS, ModelFactory, training_config
from networkfed.trees.params import XGBOOST_DEFAULTS, tree_hparams
from networkfed.tuning.search_space import (
    TUNABLE_MODELS,
    hyperparameters_from_params,
    suggest_hyperparameters,
)

MODELS = [model.value for model in TUNABLE_MODELS if model.value != "xgboost"]
"""The networks (xgboost's points: ``test_xgboost_points_are_tree_settings``)."""


def drawn_points(model: str, strategy: str = "fedavg", count: int = 8, seed: int = 0) -> list:
    """``count`` seeded points with their stored Optuna params."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    points = []
    for _ in range(count):
        trial = study.ask()
        points.append((suggest_hyperparameters(trial, model, strategy), trial.params))
        study.tell(trial, 0.0)
    return points


@pytest.mark.parametrize("model", MODELS)
def test_every_drawn_point_builds_the_model_and_its_training_config(model: str) -> None:
    # Prepare
    points = drawn_points(model)

    # Execute / Assert
    for chosen, _ in points:
        overrides = chosen.model_overrides
        wrapper = ModelFactory.create_model(model, 10, 2, sequence_length=10, **overrides)
        config = training_config(model, **chosen.training_overrides)
        assert wrapper.num_parameters() > 0
        assert {**config, **chosen.training_overrides} == config
        assert 1 <= chosen.local_epochs <= 4


@pytest.mark.parametrize("model", MODELS)
def test_stored_params_rebuild_exactly_the_drawn_point(model: str) -> None:
    # Prepare
    points = drawn_points(model, strategy="fedadam")

    # Execute / Assert
    for chosen, params in points:
        assert hyperparameters_from_params(params, model, "fedadam") == chosen


@pytest.mark.parametrize("model", MODELS)
def test_documented_architecture_is_inside_the_space(model: str) -> None:
    # Prepare: the base widths that reproduce the design document's layers
    best = BEST_HYPERPARAMETERS[model]
    widths = {
        "cnn": {"conv_filters_base": best.get("conv_filters", [0])[0],
                "fc_hidden_base": best.get("fc_hidden", [0, 0])[-1]},
        "lstm": {"hidden_size": best.get("hidden_size"), "num_layers": best.get("num_layers"),
                 "bidirectional": best.get("bidirectional")},
        "hybrid": {"cnn_filters_base": best.get("cnn_filters", [0])[0],
                   "lstm_hidden": best.get("lstm_hidden")},
    }[model]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    suggest_hyperparameters(trial, model, "fedavg")
    params = {**trial.params, **widths, "dropout_rate": best["dropout_rate"]}

    # Execute
    chosen = hyperparameters_from_params(params, model, "fedavg")

    # Assert
    for key, value in chosen.model_overrides.items():
        assert value == best[key], key


@pytest.mark.parametrize("strategy", sorted(STRATEGY_OPTIONS))
def test_tuned_strategy_options_are_valid_for_the_strategy(strategy: str) -> None:
    # Prepare
    points = drawn_points("cnn", strategy=strategy, count=6, seed=2)

    # Execute / Assert
    for chosen, _ in points:
        assert set(chosen.strategy_options) <= set(STRATEGY_OPTIONS[strategy])
        assert not {"eta_l", "num_malicious_clients"} & set(chosen.strategy_options)
        built = build_strategy(strategy, **chosen.strategy_options)
        assert built.get_options() == {**built.get_options(), **chosen.strategy_options}


def test_a_model_without_search_space_is_refused_with_the_tunable_ones() -> None:
    # Prepare
    trial = optuna.create_study().ask()

    # Execute / Assert
    with pytest.raises(ValueError, match="tunable: 'cnn', 'lstm', 'hybrid'"):
        suggest_hyperparameters(trial, "custom", "fedavg")


def test_xgboost_points_are_tree_settings_and_rebuild_exactly() -> None:
    for chosen, params in drawn_points("xgboost", strategy="xgb-bagging"):
        assert tree_hparams(chosen.hparams) == {**XGBOOST_DEFAULTS, **chosen.hparams}
        assert chosen.training_overrides == {} and chosen.strategy_options == {}
        assert 1 <= chosen.local_epochs <= 8
        assert hyperparameters_from_params(params, "xgboost", "xgb-bagging") == chosen
