"""ModelWrapper: full-state parameters, all-or-nothing replacement, pass-through."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from networkfed.core.errors import InvalidParametersError
from networkfed.core.interfaces import ModelInterface
from networkfed.models import ModelFactory, ModelWrapper, OptimizedCNNModel


@pytest.fixture
def wrapper() -> ModelWrapper:
    return ModelFactory.create_model("cnn", 4, 2, seed=0, conv_filters=[4, 8], fc_hidden=[8])


def snapshot(wrapper: ModelWrapper) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in wrapper.model.state_dict().items()}


def assert_unchanged(wrapper: ModelWrapper, before: dict[str, torch.Tensor]) -> None:
    after = wrapper.model.state_dict()
    assert after.keys() == before.keys()
    for name, tensor in before.items():
        assert torch.equal(after[name], tensor), name


def test_get_parameters_is_the_full_state_as_detached_cpu_copies(wrapper):
    params = wrapper.get_parameters()

    assert list(params) == list(wrapper.model.state_dict())
    assert "bn1.running_mean" in params and "bn1.num_batches_tracked" in params
    assert all(not t.requires_grad and t.device.type == "cpu" for t in params.values())
    params["conv1.weight"].add_(1.0)
    assert not torch.equal(params["conv1.weight"], wrapper.model.conv1.weight)


def corrupt(kind: str, params: dict) -> tuple[dict, str]:
    """Return a broken copy of ``params`` and the key the error must name."""
    broken = dict(params)
    if kind == "missing":
        del broken["fc1.bias"]
        return broken, "fc1.bias"
    if kind == "unexpected":
        broken["fc9.weight"] = torch.zeros(1)
        return broken, "fc9.weight"
    if kind == "shape":
        broken["conv2.weight"] = torch.zeros(3, 3)
        return broken, "conv2.weight"
    if kind in ("nan", "inf"):
        value = broken["bn2.running_var"].clone()
        value[0] = float(kind)
        broken["bn2.running_var"] = value
        return broken, "bn2.running_var"
    broken["fc2.bias"] = [0.0, 1.0]
    return broken, "fc2.bias"


@pytest.mark.parametrize("kind", ["missing", "unexpected", "shape", "nan", "inf", "not-a-tensor"])
def test_bad_parameters_are_rejected_naming_the_key_and_change_nothing(wrapper, kind):
    good = {name: tensor + 1 if tensor.is_floating_point() else tensor
            for name, tensor in wrapper.get_parameters().items()}
    broken, key = corrupt(kind, good)
    before = snapshot(wrapper)

    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        wrapper.set_parameters(broken)

    assert_unchanged(wrapper, before)


def test_every_problem_is_reported_at_once(wrapper):
    params = wrapper.get_parameters()
    del params["fc1.weight"]
    params["extra"] = torch.zeros(1)
    params["conv1.bias"] = torch.full((4,), float("nan"))

    with pytest.raises(InvalidParametersError) as caught:
        wrapper.set_parameters(params)

    error = caught.value
    assert (error.missing, error.unexpected, error.non_finite) == (
        ["fc1.weight"], ["extra"], ["conv1.bias"]
    )


def test_parameters_are_copied_in_place_so_optimizers_keep_working(wrapper):
    optimizer = torch.optim.SGD(wrapper.parameters(), lr=0.1)
    weight = wrapper.model.fc2.weight
    new = {name: torch.full_like(t, 0.5) if t.is_floating_point() else t
           for name, t in wrapper.get_parameters().items()}

    wrapper.set_parameters(new)
    weight.grad = torch.ones_like(weight)
    optimizer.step()

    assert wrapper.model.fc2.weight is weight
    assert optimizer.param_groups[0]["params"][-2] is weight
    torch.testing.assert_close(weight.detach(), torch.full_like(weight, 0.4))


def test_integer_buffers_keep_their_dtype(wrapper):
    params = wrapper.get_parameters()
    params["bn1.num_batches_tracked"] = torch.tensor(7.0)  # as an averaging server may send it

    wrapper.set_parameters(params)

    tracked = wrapper.model.bn1.num_batches_tracked
    assert tracked.dtype == torch.int64 and int(tracked) == 7


def test_numpy_arrays_are_accepted(wrapper):
    arrays = {name: t.numpy() * 2 for name, t in wrapper.get_parameters().items()}

    wrapper.set_parameters(arrays)

    np.testing.assert_allclose(wrapper.model.fc1.bias.detach().numpy(), arrays["fc1.bias"])


def test_wrapper_passes_module_methods_through(wrapper):
    assert isinstance(wrapper, ModelInterface)
    assert wrapper.eval() is wrapper and not wrapper.model.training
    assert wrapper.train() is wrapper and wrapper.model.training
    assert wrapper.to(torch.device("cpu")) is wrapper
    assert [n for n, _ in wrapper.named_parameters()] == [
        n for n, _ in wrapper.model.named_parameters()
    ]
    assert len(list(wrapper.parameters())) == len(list(wrapper.model.parameters()))
    assert wrapper.state_dict().keys() == wrapper.model.state_dict().keys()
    rows = torch.randn(3, 4)
    torch.testing.assert_close(wrapper.eval().forward(rows), wrapper.model(rows))
    assert wrapper.num_parameters() == sum(p.numel() for p in wrapper.model.parameters())


def test_predict_proba_gives_probabilities_and_keeps_the_mode(wrapper):
    wrapper.train()

    probabilities = wrapper.predict_proba(torch.randn(5, 4), batch_size=2)

    assert probabilities.shape == (5, 2) and not probabilities.requires_grad
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(5))
    assert wrapper.model.training


def test_only_modules_can_be_wrapped():
    with pytest.raises(TypeError, match=r"nn\.Module"):
        ModelWrapper({"weight": torch.zeros(1)})
    assert isinstance(ModelWrapper(OptimizedCNNModel(3, 2)).model, OptimizedCNNModel)
