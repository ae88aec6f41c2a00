"""The fast training paths against autograd, over the whole domain each accepts (hypothesis).

Domain drawn: signals of 1 to 1,000 values (the CNN's limit) as rows or windows, windows of 1
to 1,000 steps for the hybrid (its rows forward up to 100 in training, autograd beyond), batches
of 1 to 512 rows (odd ones too), two to four classes, dropout off / on, class weights off /
none / balanced / sqrt, FedProx off / on, and the model holding a site's own layers (FedBN /
FedPer: BatchNorm statistics and head away from their initial values), with constant stretches
in the input (ties in max-pooling) or without.

Stated tolerances, two precisions:

- float64, the fast paths' arithmetic itself: loss, every gradient, every running estimate and
  the eval-mode logits elementwise within 1e-7 of that tensor's largest magnitude + 1e-9 of
  the largest gradient element (measured: 1e-12 at 512 x 1,000 values); the batch counter
  exactly.
- float32, the trainer's own dispatch (:func:`training_step`), judged against the same step
  in float64: each result (loss, gradient, buffer, eval logits) at most 3x as far from it as
  float32 autograd through the module is, plus a floor: 1e-5 of the result's norm (+1e-6)
  for loss, buffers and logits; 5e-3 of a gradient's norm + 1e-5 of the largest gradient's
  (a convolution's bias, whose exact gradient is 0 under BatchNorm: 1e-4 of the largest).
  Why relative to autograd's own error: a one-channel net on a flat signal is ill-conditioned,
  and at 512 x 1,000 values float32 autograd's early-block gradients are 1e-3 off float64
  (the fast path's: 3e-4 to 1e-3). Why a floor for gradients: max-pooling and ReLU are not
  differentiable at a tie and at zero, and two float32 computations of one value can round to
  either side of one, moving that element's gradient to its neighbour. Real errors show in
  float64, where they are 5-15 % against 1e-12.

CI runs few examples (the ``ci`` profile, tests/conftest.py); ``--hypothesis-profile=thorough``
(or ``NETWORKFED_HYPOTHESIS_PROFILE=thorough``) runs hundreds.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn

from fast_path_reference import assert_near, reference_copy, reference_step
from networkfed.federated import training_step as training_step_module
from networkfed.federated.fast_cnn import FAST_MAX_SIGNAL, CNNTrainingStep, cnn_inference
from networkfed.federated.fast_hybrid import FAST_MAX_STEPS, hybrid_forward
from networkfed.federated.fast_layers import use_fast_dropout
from networkfed.federated.local_training import (
    _add_proximal_gradient,
    class_weights_from_counts,
    label_counts,
)
from networkfed.federated.training_step import (
    FAST_MAX_BATCH,
    AutogradStep,
    FastPathStep,
    TrainingStep,
    inference_forward,
    training_step,
)
from networkfed.models.cnn import OptimizedCNNModel
from networkfed.models.hybrid import OptimizedHybridModel

PRIMES = [2, 3, 5, 7, 97, 331, 997]
signal_lengths = st.one_of(
    st.integers(1, FAST_MAX_SIGNAL), st.sampled_from([1, FAST_MAX_SIGNAL, *PRIMES])
)
batches = st.one_of(st.integers(1, FAST_MAX_BATCH), st.sampled_from([1, 2, 3, 33, 300, 512]))
weightings = st.sampled_from([None, "none", "balanced", "sqrt"])
precisions = st.sampled_from(["float32", "float64"])
mus = st.sampled_from([0.0, 0.01, 1.0])
channels = st.lists(st.integers(1, 12), min_size=1, max_size=3)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _inputs(batch: int, steps: int, features: int, classes: int, seed: int,
            ties: bool) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, features, generator=generator)
    if ties:  # a constant stretch (a constant sensor, a flat-lined signal): pooling ties
        flat = x.view(batch, -1)
        start = int(torch.randint(0, flat.shape[1], (1,), generator=generator))
        flat[:, start : start + max(4, flat.shape[1] // 3)] = 0.25
    y = torch.randint(0, classes, (batch,), generator=generator)
    return x, y


def _class_weights(y: Tensor, classes: int, weighting: str | None) -> Tensor | None:
    if weighting is None:
        return None
    counts = [label_counts(y, classes)]
    return torch.tensor(class_weights_from_counts(counts, weighting), dtype=torch.float32)  # type: ignore[arg-type]


def _own_site_layers(model: nn.Module, seed: int) -> None:
    """Put a site's own BatchNorm and head in (FedBN / FedPer): values a trained site holds,
    away from the initial ones (unit variance, zero mean, gamma 1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator))
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
                module.running_var.copy_(0.2 + torch.rand(module.num_features,
                                                          generator=generator))
                module.num_batches_tracked.fill_(17)
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        head.weight.mul_(3.0)


def _last_block_length(length: int, blocks: int) -> int:
    """The length BatchNorm sees in the last block (pooling halves it while it is >= 2)."""
    for _ in range(blocks - 1):
        length = length // 2 if length >= 2 else length
    return length


def _paths(model: nn.Module, precision: str) -> tuple[TrainingStep, Callable[[Tensor], Tensor]]:
    """The fast step and eval forward: the trainer's dispatch in float32; in float64 (where
    the dispatch keeps autograd) the fast paths themselves."""
    if precision == "float32":
        return training_step(model), inference_forward(model)
    model.double()
    if isinstance(model, OptimizedCNNModel):
        return CNNTrainingStep(model), functools.partial(cnn_inference, model)
    rows = functools.partial(hybrid_forward, model)
    return AutogradStep(model, rows), rows


def _one_step(model: nn.Module, step: TrainingStep, forward: Callable[[Tensor], Tensor],
              x: Tensor, y: Tensor, weights: Tensor | None, mu: float,
              fast: bool) -> dict[str, Tensor]:
    """Loss, every gradient (FedProx's term included), every buffer after one training step
    from the current RNG state, and the eval-mode logits after it."""
    params = list(model.parameters())
    anchor = [p.detach().clone() for p in params]
    with torch.no_grad():  # FedProx pulls towards the global model: start a little away
        for p in params:
            p.add_(0.01)
    x = x.to(params[0].dtype)
    weights = None if weights is None else weights.to(params[0].dtype)
    loss = step(x, y, weights)
    if mu > 0 and fast:  # what the trainer does after the fast step
        _add_proximal_gradient(params, anchor, mu)
    elif mu > 0:  # autograd of mu/2 ||w - w_global||^2
        (mu / 2 * sum((p - a).pow(2).sum() for p, a in zip(params, anchor, strict=True))
         ).backward()
    result = {"loss": loss.detach()}
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        result[f"gradient of {name}"] = p.grad.detach().clone()
    result.update({name: b.clone() for name, b in model.named_buffers()})
    model.eval()
    with torch.inference_mode():
        result["eval-mode logits"] = forward(x)
    return result


def _compare_steps(fast: nn.Module, reference: nn.Module, x: Tensor, y: Tensor,
                   weights: Tensor | None, mu: float, precision: str) -> None:
    """The fast path's step against autograd through the module (module docstring)."""
    truth = copy.deepcopy(reference).double()
    step, forward = _paths(fast, precision)
    state = torch.random.get_rng_state()
    got = _one_step(fast, step, forward, x, y, weights, mu, fast=True)
    expected = {}
    for name, model in (("truth", truth), ("autograd", reference)):
        if precision == "float64" and name == "autograd":
            continue
        torch.random.set_rng_state(state)
        expected[name] = _one_step(model, reference_step(model), model, x, y, weights, mu,
                                   fast=False)
    if precision == "float64":
        truth = expected["truth"]
        largest = max(float(v.abs().max()) for k, v in truth.items() if k.startswith("grad"))
        for key, value in truth.items():
            if value.is_floating_point():  # (a conv bias's exact gradient is 0: the floor)
                assert_near(got[key], value, key, rtol=1e-7, atol=1e-9 * largest)
            else:
                assert torch.equal(got[key], value), key
        return
    _float32_as_close_as_autograd(got, expected["autograd"], expected["truth"])


def _float32_as_close_as_autograd(
    got: dict[str, Tensor], autograd: dict[str, Tensor], truth: dict[str, Tensor]
) -> None:
    """Each float32 result is within 3x float32 autograd's own distance from the float64
    result, plus a floor for ties decided the other way (module docstring)."""
    largest = max(float(v.norm()) for k, v in truth.items() if k.startswith("gradient"))
    for key, exact in truth.items():
        if not exact.is_floating_point():
            assert torch.equal(got[key], autograd[key]), key
            continue
        size = float(exact.norm())
        if key.startswith("gradient of conv") and key.endswith("bias"):
            floor = 1e-4 * largest  # 0 in exact arithmetic under BatchNorm: rounding noise
        elif key.startswith("gradient"):
            floor = 5e-3 * size + 1e-5 * largest
        else:
            floor = 1e-5 * size + 1e-6
        error = float((got[key].double() - exact).norm())
        own = float((autograd[key].double() - exact).norm())
        assert error <= 3 * own + floor, f"{key}: {error:.3g} from float64, autograd {own:.3g}"


def _refuses_one_value(models: tuple[nn.Module, ...], x: Tensor, y: Tensor) -> None:
    """A batch where BatchNorm would see one value per channel: every path refuses."""
    for model in models:
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            training_step(model)(x, y)


@given(
    signal=signal_lengths, as_rows=st.booleans(), filters=channels,
    hidden=st.lists(st.integers(1, 16), min_size=1, max_size=2), classes=st.integers(2, 4),
    batch=batches,
    dropout=st.sampled_from([0.0, 0.3, 0.6]), weighting=weightings, mu=mus,
    site_layers=st.booleans(), ties=st.booleans(), precision=precisions,
    seed=st.integers(0, 2**16),
)
@example(signal=10, as_rows=True, filters=[32, 64, 128], hidden=[256, 128], classes=2, batch=33,
         dropout=0.3, weighting="balanced", mu=0.01, site_layers=True, ties=True,
         precision="float32", seed=0)
@example(signal=1000, as_rows=False, filters=[32, 64, 128], hidden=[256, 128], classes=2,
         batch=33, dropout=0.3, weighting="sqrt", mu=0.0, site_layers=False, ties=True,
         precision="float32", seed=1)
@example(signal=997, as_rows=True, filters=[32, 64, 128], hidden=[256, 128], classes=3,
         batch=301, dropout=0.3, weighting="none", mu=1.0, site_layers=True, ties=True,
         precision="float64", seed=2)
def test_cnn_step_equals_autograd_through_the_module(
    signal: int, as_rows: bool, filters: list[int], hidden: list[int], classes: int,
    batch: int, dropout: float, weighting: str | None, mu: float, site_layers: bool,
    ties: bool, precision: str, seed: int,
) -> None:
    # Prepare: rows of `signal` features, or windows of a divisor of it
    divisors = _divisors(signal)
    steps = 1 if as_rows else divisors[seed % len(divisors)]
    torch.manual_seed(seed)
    model = OptimizedCNNModel(signal // steps, classes, None if as_rows else steps,
                              conv_filters=filters, fc_hidden=hidden, dropout_rate=dropout)
    if site_layers:
        _own_site_layers(model, seed)
    x, y = _inputs(batch, steps, signal // steps, classes, seed, ties)
    reference = reference_copy(model)
    use_fast_dropout(model)  # as the site trainer does
    assert isinstance(training_step(model), FastPathStep)
    if batch * _last_block_length(signal, len(filters)) < 2:
        _refuses_one_value((model, reference), x, y)
        return

    # Execute / Assert
    _compare_steps(model, reference, x, y, _class_weights(y, classes, weighting), mu, precision)


@given(
    steps=st.one_of(st.integers(1, FAST_MAX_STEPS), st.sampled_from([1, 2, 19, 30, 97, 100]),
                    st.integers(FAST_MAX_STEPS + 1, 1000)),
    features=st.integers(1, 12), filters=channels, lstm_hidden=st.integers(1, 16),
    classes=st.integers(2, 4), batch=batches, dropout=st.sampled_from([0.0, 0.4]),
    weighting=weightings, mu=mus, site_layers=st.booleans(), ties=st.booleans(),
    precision=precisions, seed=st.integers(0, 2**16),
)
@example(steps=30, features=14, filters=[32, 64], lstm_hidden=128, classes=2, batch=17,
         dropout=0.4, weighting="balanced", mu=0.01, site_layers=True, ties=True,
         precision="float32", seed=0)
@example(steps=19, features=14, filters=[32, 64], lstm_hidden=128, classes=2, batch=33,
         dropout=0.4, weighting="sqrt", mu=0.0, site_layers=False, ties=True,
         precision="float64", seed=1)
def test_hybrid_step_equals_autograd_through_the_module(
    steps: int, features: int, filters: list[int], lstm_hidden: int, classes: int, batch: int,
    dropout: float, weighting: str | None, mu: float, site_layers: bool, ties: bool,
    precision: str, seed: int,
) -> None:
    # Prepare: the model's own sequence_length differs from the input's (the input decides)
    torch.manual_seed(seed)
    model = OptimizedHybridModel(features, classes, sequence_length=10, cnn_filters=filters,
                                 lstm_hidden=lstm_hidden, dropout_rate=dropout)
    if site_layers:
        _own_site_layers(model, seed)
    x, y = _inputs(batch, steps, features, classes, seed, ties)
    # Beyond the rows forward's limit the trainer's step is autograd through the module.
    plain = steps > FAST_MAX_STEPS and precision == "float32"
    reference = copy.deepcopy(model) if plain else reference_copy(model)
    use_fast_dropout(model)  # as the site trainer does
    if plain:
        use_fast_dropout(reference)
    if batch * _last_block_length(steps, len(filters)) < 2:
        _refuses_one_value((model, reference), x, y)
        return

    # Execute / Assert
    _compare_steps(model, reference, x, y, _class_weights(y, classes, weighting), mu, precision)


def test_outside_the_tested_domain_autograd_runs_and_says_so_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: a hybrid built for 10 steps, given 101; a CNN given a batch over the limit
    monkeypatch.setattr(training_step_module, "_logged_fallbacks", set())  # a fresh process
    torch.manual_seed(0)
    hybrid = OptimizedHybridModel(3, 2, sequence_length=10, cnn_filters=[4], lstm_hidden=4)
    cnn = OptimizedCNNModel(3, 2, conv_filters=[4], fc_hidden=[4])
    calls: list[int] = []
    step = training_step(hybrid)
    assert isinstance(step, FastPathStep) and isinstance(step.fast, AutogradStep)
    step.fast.forward = lambda x: calls.append(x.shape[1]) or hybrid(x)  # type: ignore[assignment]

    # Execute
    with caplog.at_level("INFO", logger="networkfed.federated.training_step"):
        for steps in (10, FAST_MAX_STEPS, FAST_MAX_STEPS + 1, 300):
            step(torch.randn(4, steps, 3), torch.tensor([0, 1, 0, 1]))
        cnn_step = training_step(cnn)
        for batch in (FAST_MAX_BATCH, FAST_MAX_BATCH + 1, FAST_MAX_BATCH + 7):
            cnn_step(torch.randn(batch, 3), torch.randint(0, 2, (batch,)))
        with pytest.raises(RuntimeError):  # the module's own error for a float64 input
            cnn_step(torch.randn(4, 3).double(), torch.tensor([0, 1, 0, 1]))

    # Assert: the rows forward only up to the limit; one line per kind of input
    assert calls == [10, FAST_MAX_STEPS]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "windows of 101 steps (tested: up to 100)" in messages[0]
    assert f"a batch of {FAST_MAX_BATCH + 1} rows (tested: up to {FAST_MAX_BATCH})" in messages[1]
    assert "torch.float64 input" in messages[2]


def test_eval_forwards_equal_the_modules_on_a_whole_evaluation_batch() -> None:
    """Evaluation sends up to 2,048 rows at once: no batch limit there, so test above it."""
    torch.manual_seed(1)
    for model, x in ((OptimizedCNNModel(10, 2), torch.randn(2500, 10)),
                     (OptimizedHybridModel(10, 2), torch.randn(2500, 10, 10))):
        model(x[:64])  # running estimates away from their initial values
        model.eval()
        with torch.inference_mode():
            assert_near(inference_forward(model)(x), model(x), type(model).__name__)


def test_the_references_are_autograd_through_the_modules_without_dropout() -> None:
    """The references differ from the modules only in how they draw dropout masks."""
    torch.manual_seed(2)
    for model, x in ((OptimizedCNNModel(10, 2, dropout_rate=0.0), torch.randn(8, 10)),
                     (OptimizedHybridModel(4, 2, dropout_rate=0.0), torch.randn(8, 10, 4))):
        reference = reference_copy(model)
        y = torch.tensor([0, 1] * 4)
        loss = reference_step(reference)(x, y)
        expected = F.cross_entropy(copy.deepcopy(model)(x), y)
        assert math.isclose(float(loss), float(expected.detach()), rel_tol=1e-6)
