"""ModelFactory over the registry: types, defaults, overrides, registration, tuned settings."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from networkfed.core.enums import ModelType
from networkfed.models import (
    BEST_HYPERPARAMETERS,
    OPTIMIZED_TRAINING_CONFIG,
    ModelFactory,
    OptimizedCNNModel,
    OptimizedHybridModel,
    OptimizedLSTMModel,
    create_optimized_model,
    split_overrides,
    training_config,
)


class TinyNet(nn.Module):
    """A user's own model: one linear layer over the last time step."""

    def __init__(self, input_dim: int, num_classes: int, width: int = 4) -> None:
        super().__init__()
        self.body = nn.Linear(input_dim, width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x if x.dim() == 2 else x[:, -1])))


@pytest.fixture
def custom_registered():
    ModelFactory.register_model(ModelType.CUSTOM, TinyNet)
    yield ModelType.CUSTOM
    ModelFactory.unregister_model(ModelType.CUSTOM)


def test_built_in_models_are_listed_in_registration_order_as_members():
    listed = ModelFactory.list_available_models()

    assert listed[:3] == [ModelType.CNN, ModelType.LSTM, ModelType.HYBRID]
    assert all(isinstance(key, ModelType) for key in listed[:3])


def test_cnn_default_config_is_the_documented_one():
    assert ModelFactory.get_default_config(ModelType.CNN) == {
        "input_dim": 10,
        "num_classes": 2,
        "conv_filters": [32, 64, 128],
        "fc_hidden": [256, 128],
        "dropout_rate": 0.3,
    }


def test_lstm_default_config_follows_the_architecture_section():
    assert ModelFactory.get_default_config("lstm") == {
        "input_dim": 10,
        "num_classes": 2,
        "hidden_size": 64,
        "num_layers": 1,
        "bidirectional": True,
        "dropout_rate": 0.2,
    }


def test_default_config_is_a_fresh_copy():
    first = ModelFactory.get_default_config("cnn")
    first["conv_filters"].append(999)
    first["dropout_rate"] = 0.9

    again = ModelFactory.get_default_config("cnn")

    assert again["conv_filters"] == [32, 64, 128] and again["dropout_rate"] == 0.3
    assert BEST_HYPERPARAMETERS["cnn"]["conv_filters"] == [32, 64, 128]


@pytest.mark.parametrize("spelling", ["lstm", "LSTM", " Lstm ", ModelType.LSTM])
def test_model_type_is_accepted_as_member_or_string(spelling):
    wrapper = ModelFactory.create_model(spelling, 4, 2)

    assert isinstance(wrapper.model, OptimizedLSTMModel)
    assert wrapper.model_type is ModelType.LSTM


@pytest.mark.parametrize(
    ("call", "listed"),
    [
        (lambda: ModelFactory.create_model("transformer", 4, 2), "'cnn', 'lstm', 'hybrid'"),
        (lambda: ModelFactory.create_model(42, 4, 2), "'cnn', 'lstm', 'hybrid'"),
        (lambda: ModelFactory.get_default_config("gru"), "'cnn', 'lstm', 'hybrid'"),
        (lambda: ModelFactory.create_model("lstm", 4, 2, hiden_size=3), "'hidden_size'"),
        (lambda: ModelFactory.create_model("cnn", 0, 2), ">= 1"),
        (lambda: ModelFactory.create_model("cnn", 4, 0), ">= 1"),
        (lambda: ModelFactory.create_model("cnn", 4, 2, dropout_rate=1.5), "[0, 1)"),
        (lambda: ModelFactory.create_model("hybrid", 4, 2, cnn_filters=[]), "list of integers"),
        (lambda: ModelFactory.create_model("lstm", 4, 2, sequence_length=0), ">= 1"),
        (lambda: ModelFactory.create_model("lstm", 4, 2, bidirectional="no"), "true or false"),
    ],
)
def test_bad_requests_raise_value_errors_that_say_what_is_valid(call, listed):
    with pytest.raises(ValueError) as caught:
        call()

    assert listed in str(caught.value)


def test_register_a_custom_model(custom_registered):
    wrapper = ModelFactory.create_model("custom", 5, 3, width=6)

    assert ModelFactory.list_available_models()[-1] is ModelType.CUSTOM
    assert isinstance(wrapper.model, TinyNet) and wrapper.model.body.out_features == 6
    assert wrapper(torch.randn(2, 5)).shape == (2, 3)
    assert ModelFactory.get_default_config("custom") == {
        "input_dim": 10,
        "num_classes": 2,
        "width": 4,
    }
    with pytest.raises(ValueError, match="'width'"):
        ModelFactory.create_model("custom", 5, 3, depth=2)


def test_a_custom_name_outside_the_enum_stays_a_string():
    ModelFactory.register_model("tiny-net", TinyNet)
    try:
        listed = ModelFactory.list_available_models()
        wrapper = ModelFactory.create_model("Tiny-Net", 3, 2)
    finally:
        ModelFactory.unregister_model("tiny-net")

    assert listed[-1] == "tiny-net" and not isinstance(listed[-1], ModelType)
    assert isinstance(wrapper.model, TinyNet)
    assert "tiny-net" not in ModelFactory.list_available_models()


def test_built_in_models_cannot_be_replaced_or_removed():
    with pytest.raises(ValueError, match="built-in"):
        ModelFactory.register_model(ModelType.CNN, TinyNet)
    with pytest.raises(ValueError, match="built-in"):
        ModelFactory.unregister_model("lstm")

    assert isinstance(ModelFactory.create_model("cnn", 3, 2).model, OptimizedCNNModel)


def test_only_modules_taking_the_shape_can_be_registered():
    class NoShape(nn.Module):
        def __init__(self, width: int = 3) -> None:
            super().__init__()

    with pytest.raises(ValueError, match=r"torch\.nn\.Module"):
        ModelFactory.register_model("not-a-module", dict)
    with pytest.raises(ValueError, match="input_dim and num_classes"):
        ModelFactory.register_model("no-shape", NoShape)
    assert "no-shape" not in ModelFactory.list_available_models()


def test_create_optimized_model_returns_the_bare_module_with_overrides():
    model = create_optimized_model("cnn", 4, 2, sequence_length=5, fc_hidden=[32])

    assert isinstance(model, OptimizedCNNModel)
    assert model.sequence_length == 5 and model.fc2.in_features == 32
    assert isinstance(create_optimized_model(ModelType.HYBRID, 4, 2), OptimizedHybridModel)


def test_tuned_settings_are_the_documented_table():
    common = {"optimizer": "Adam", "scheduler": "StepLR", "step_size": 10, "gamma": 0.5,
              "weight_decay": 1e-4}

    documented = {
        "cnn": {"batch_size": 32, "learning_rate": 0.0005, **common, "epochs": 50},
        "lstm": {"batch_size": 16, "learning_rate": 0.0005, **common, "sequence_length": 10,
                 "gradient_clipping": 1.0},
        "hybrid": {"batch_size": 16, "learning_rate": 0.001, **common, "gradient_clipping": 1.0},
    }

    assert dict(OPTIMIZED_TRAINING_CONFIG) == documented
    assert BEST_HYPERPARAMETERS == {
        "cnn": {"conv_filters": [32, 64, 128], "fc_hidden": [256, 128], "dropout_rate": 0.3},
        "lstm": {"hidden_size": 64, "num_layers": 1, "bidirectional": True,
                 "dropout_rate": 0.2, "sequence_length": 10},
        "hybrid": {"cnn_filters": [32, 64], "lstm_hidden": 128, "dropout_rate": 0.4},
    }


@pytest.mark.parametrize(
    ("model_class", "key"),
    [(OptimizedCNNModel, "cnn"), (OptimizedLSTMModel, "lstm"), (OptimizedHybridModel, "hybrid")],
)
def test_constructor_defaults_are_read_from_the_one_definition(model_class, key):
    signature = inspect.signature(model_class).parameters

    for name, value in BEST_HYPERPARAMETERS[key].items():
        default = signature[name].default
        assert (list(default) if isinstance(default, tuple) else default) == value, name


def test_views_hand_out_copies_and_accept_members():
    OPTIMIZED_TRAINING_CONFIG["cnn"]["batch_size"] = 1
    BEST_HYPERPARAMETERS["hybrid"]["cnn_filters"].append(1)

    assert OPTIMIZED_TRAINING_CONFIG[ModelType.CNN]["batch_size"] == 32
    assert BEST_HYPERPARAMETERS["hybrid"]["cnn_filters"] == [32, 64]
    assert list(OPTIMIZED_TRAINING_CONFIG) == ["cnn", "lstm", "hybrid"]
    with pytest.raises(KeyError, match="cnn"):
        OPTIMIZED_TRAINING_CONFIG["gru"]


def test_training_config_merges_overrides_onto_a_fresh_copy():
    config = training_config("lstm", learning_rate=0.01, batch_size=8)

    assert config == {**OPTIMIZED_TRAINING_CONFIG["lstm"], "learning_rate": 0.01, "batch_size": 8}
    assert OPTIMIZED_TRAINING_CONFIG["lstm"]["learning_rate"] == 0.0005


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 5}, "'gradient_clipping'"),  # the LSTM has no epochs setting
        ({"batch_size": 0}, ">= 1"),
        ({"learning_rate": -1.0}, "> 0"),
        ({"optimizer": "SGD"}, "'Adam'"),
        ({"gamma": 2.0}, "(0, 1]"),
    ],
)
def test_training_config_rejects_unknown_or_invalid_settings(overrides, message):
    with pytest.raises(ValueError) as caught:
        training_config("lstm", **overrides)

    assert message in str(caught.value)


def test_custom_models_train_with_generic_settings(custom_registered):
    config = training_config(custom_registered)

    assert config["optimizer"] == "Adam" and config["batch_size"] >= 1


def test_split_overrides_sorts_architecture_from_training():
    model_part, train_part = split_overrides(
        "lstm", {"hidden_size": 32, "learning_rate": 0.01, "sequence_length": 20}
    )

    assert model_part == {"hidden_size": 32, "sequence_length": 20}
    assert train_part == {"learning_rate": 0.01, "sequence_length": 20}
    with pytest.raises(ValueError, match="'conv_filters'"):
        split_overrides("cnn", {"hidden_size": 32})
