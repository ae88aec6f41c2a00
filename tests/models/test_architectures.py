"""Checks every registered architecture gets: shapes, gradients, state round trips, configs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from networkfed.core.errors import DataValidationError
from networkfed.models import ModelFactory, OptimizedCNNModel

MODEL_TYPES = ModelFactory.list_available_models()  # the built-ins, registered on import
SHAPES = [(1, 1), (3, 1), (5, 2), (4, 5), (10, 10)]  # (input_dim, sequence_length)


def build(model_type, input_dim=3, sequence_length=1, num_classes=2, seed=0):
    return ModelFactory.create_model(
        model_type, input_dim, num_classes, seed=seed, sequence_length=sequence_length
    )


@pytest.mark.parametrize("model_type", MODEL_TYPES, ids=str)
@pytest.mark.parametrize(("input_dim", "sequence_length"), SHAPES)
def test_forward_returns_one_logit_row_per_window(model_type, input_dim, sequence_length):
    wrapper = build(model_type, input_dim, sequence_length, num_classes=3)
    windows = torch.randn(2, sequence_length, input_dim)

    logits = wrapper(windows)

    assert logits.shape == (2, 3)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("model_type", MODEL_TYPES, ids=str)
@pytest.mark.parametrize("input_dim", [1, 2, 7])
def test_rows_are_windows_of_one_step(model_type, input_dim):
    wrapper = build(model_type, input_dim, sequence_length=1).eval()
    rows = torch.randn(3, input_dim)

    from_rows, from_windows = wrapper(rows), wrapper(rows.unsqueeze(1))

    assert from_rows.shape == (3, 2)
    torch.testing.assert_close(from_rows, from_windows)


@pytest.mark.parametrize("model_type", MODEL_TYPES, ids=str)
def test_backward_reaches_every_parameter(model_type):
    wrapper = build(model_type, input_dim=3, sequence_length=8)
    torch.manual_seed(1)
    windows, labels = torch.randn(4, 8, 3), torch.tensor([0, 1, 0, 1])

    F.cross_entropy(wrapper(windows), labels).backward()

    silent = [n for n, p in wrapper.named_parameters() if p.grad is None or not p.grad.any()]
    assert silent == []


@pytest.mark.parametrize("model_type", MODEL_TYPES, ids=str)
def test_set_parameters_round_trip_reproduces_the_model(model_type):
    source, target = build(model_type, seed=1), build(model_type, seed=2)
    source.train()(torch.randn(4, 1, 3))  # move BatchNorm statistics away from their start
    rows = torch.randn(5, 3)

    target.set_parameters(source.get_parameters())

    for name, tensor in source.get_parameters().items():
        assert torch.equal(target.get_parameters()[name], tensor), name
        assert target.get_parameters()[name].dtype == tensor.dtype, name
    torch.testing.assert_close(target.eval()(rows), source.eval()(rows))


@pytest.mark.parametrize("model_type", MODEL_TYPES, ids=str)
def test_default_config_builds_a_working_model(model_type):
    config = ModelFactory.get_default_config(model_type)

    wrapper = ModelFactory.create_model(model_type, **config)

    windows = torch.randn(2, wrapper.model.sequence_length or 1, config["input_dim"])
    assert wrapper(windows).shape == (2, config["num_classes"])


@pytest.mark.parametrize("model_type", MODEL_TYPES, ids=str)
def test_seed_fixes_the_initial_weights_without_touching_global_state(model_type):
    before = torch.get_rng_state()

    first, again, other = build(model_type, seed=7), build(model_type, seed=7), build(
        model_type, seed=8
    )

    assert torch.equal(torch.get_rng_state(), before)
    same = [torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters(), strict=True)]
    pairs = zip(first.parameters(), other.parameters(), strict=True)
    differs = [not torch.equal(a, b) for a, b in pairs]
    assert all(same) and any(differs)


@pytest.mark.parametrize("model_type", MODEL_TYPES, ids=str)
def test_input_with_the_wrong_feature_count_is_rejected(model_type):
    wrapper = build(model_type, input_dim=4)

    with pytest.raises(DataValidationError, match=r"\(batch, 4\)"):
        wrapper(torch.randn(2, 1, 5))
    with pytest.raises(ValueError, match="got"):
        wrapper(torch.randn(2, 1, 1, 4))


def test_cnn_is_built_for_one_window_length():
    model = OptimizedCNNModel(input_dim=4, num_classes=2, sequence_length=3)

    with pytest.raises(DataValidationError, match="3 step"):
        model(torch.randn(2, 5, 4))


def test_cnn_layers_follow_the_design_document():
    model = OptimizedCNNModel(input_dim=10, num_classes=2)

    convs = [(m.in_channels, m.out_channels) for m in (model.conv1, model.conv2, model.conv3)]
    norms = [model.bn1.num_features, model.bn2.num_features, model.bn3.num_features]
    linears = [(m.in_features, m.out_features) for m in (model.fc1, model.fc2, model.fc3)]
    assert convs == [(1, 32), (32, 64), (64, 128)]
    assert norms == [32, 64, 128]
    # 10 values pooled 10 -> 5 -> 2 -> 1, times 128 channels
    assert linears == [(128, 256), (256, 128), (128, 2)]
    assert model.dropout.p == 0.3


def test_cnn_flatten_size_follows_the_window():
    model = OptimizedCNNModel(input_dim=10, num_classes=2, sequence_length=10)

    # 100 values pooled 100 -> 50 -> 25 -> 12, times 128 channels
    assert model.fc1.in_features == 12 * 128


def test_lstm_layers_follow_the_architecture_section():
    model = ModelFactory.create_model("lstm", 10, 2).model

    assert (model.lstm.hidden_size, model.lstm.num_layers) == (64, 1)
    assert model.lstm.bidirectional
    assert (model.fc1.in_features, model.fc1.out_features) == (128, 128)
    assert (model.fc2.in_features, model.fc2.out_features) == (128, 2)
    assert model.dropout.p == 0.2


def test_hybrid_layers_follow_the_design_document():
    model = ModelFactory.create_model("hybrid", 10, 2).model

    convs = [(m.in_channels, m.out_channels) for m in (model.conv1, model.conv2)]
    assert convs == [(10, 32), (32, 64)]
    assert (model.lstm.input_size, model.lstm.hidden_size) == (64, 128)
    assert not model.lstm.bidirectional and model.lstm.num_layers == 1
    assert (model.fc1.in_features, model.fc1.out_features, model.fc2.out_features) == (128, 64, 2)
    assert model.dropout.p == 0.4


def test_overrides_replace_only_what_they_name():
    model = ModelFactory.create_model("cnn", 6, 2, conv_filters=[8, 16]).model

    assert (model.conv1.out_channels, model.conv2.out_channels) == (8, 16)
    assert not hasattr(model, "conv3")
    assert model.fc1.out_features == 256 and model.dropout.p == 0.3


def test_deeper_lstm_gets_dropout_between_layers():
    model = ModelFactory.create_model("lstm", 6, 2, num_layers=2, hidden_size=16).model

    assert model.lstm.num_layers == 2 and model.lstm.dropout == 0.2
    assert model.fc1.in_features == 32
