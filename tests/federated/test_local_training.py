"""Local training: a pure, reproducible function of (global state, site data, instructions)."""

from __future__ import annotations

import math

import pytest
import torch

from engine_helpers import tiny_data
from networkfed.federated.fast_layers import FastDropout, keep_mask, use_fast_dropout
from networkfed.federated.local_training import (
    FitInstructions,
    ModelSpec,
    SiteTrainer,
    batch_indices,
    class_weights_from_counts,
    label_counts,
    round_learning_rate,
    site_seed,
)
from networkfed.models import training_config


def _trainer(model: str = "cnn") -> tuple[SiteTrainer, dict[str, torch.Tensor]]:
    data = tiny_data()
    spec = ModelSpec(model, data.input_dim, 2, {"sequence_length": data.sequence_length})
    return SiteTrainer(spec, training_config(model)), spec.build(seed=7).get_parameters()


def _instructions(round_num: int = 1, mu: float = 0.0) -> FitInstructions:
    return FitInstructions(round_num, local_epochs=1, class_weights=(0.5, 8.0), seed=3,
                           proximal_mu=mu)


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return math.sqrt(sum(float((a[k].double() - b[k].double()).pow(2).sum())
                         for k in a if a[k].is_floating_point()))


def test_learning_rate_steps_once_per_step_size_rounds() -> None:
    # Prepare
    training = {"learning_rate": 0.001, "scheduler": "StepLR", "step_size": 10, "gamma": 0.5}

    # Execute
    rates = [round_learning_rate(training, r) for r in (1, 10, 11, 20, 21)]

    # Assert
    assert rates == [0.001, 0.001, 0.0005, 0.0005, 0.00025]


def test_class_weights_come_from_the_summed_counts() -> None:
    # Prepare: two sites report counts; the pooled data has 90 healthy and 10 failures
    counts = [[60, 4], [30, 6]]

    # Execute
    weights = class_weights_from_counts(counts)

    # Assert: total / (classes * count) = 100 / (2 * 90), 100 / (2 * 10)
    assert weights == pytest.approx((100 / 180, 100 / 20))


@pytest.mark.parametrize(
    ("weighting", "expected"),
    [
        ("balanced", (100 / 180, 100 / 20)),
        ("sqrt", ((100 / 180) ** 0.5, (100 / 20) ** 0.5)),
        ("none", (1.0, 1.0)),
    ],
)
def test_each_class_weighting_by_hand(weighting: str, expected: tuple[float, float]) -> None:
    # Prepare: 90 healthy and 10 failures over two sites
    counts = [[60, 4], [30, 6]]

    # Execute
    weights = class_weights_from_counts(counts, weighting)  # type: ignore[arg-type]

    # Assert
    assert weights == pytest.approx(expected)


@pytest.mark.parametrize("weighting", ["balanced", "sqrt", "none"])
def test_a_class_no_site_has_weighs_zero(weighting: str) -> None:
    weights = class_weights_from_counts([[5, 0], [7, 0]], weighting)  # type: ignore[arg-type]
    assert weights[1] == 0.0 and weights[0] > 0


def test_unknown_class_weighting_names_the_choices() -> None:
    with pytest.raises(ValueError, match="balanced, sqrt, none"):
        class_weights_from_counts([[5, 1]], "inverse")  # type: ignore[arg-type]


def test_label_counts_count_each_class() -> None:
    assert label_counts(torch.tensor([0, 1, 1, 0, 0]), 2) == [3, 2]


def test_site_seeds_differ_by_site_round_and_stream() -> None:
    seeds = {site_seed(1, s, r, k) for s in ("a", "b") for r in (1, 2) for k in ("x", "y")}
    assert len(seeds) == 8
    assert site_seed(1, "a", 1, "x") == site_seed(1, "a", 1, "x")


def test_a_last_batch_of_one_joins_the_previous_batch() -> None:
    batches = batch_indices(65, 32, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [32, 33]
    assert sorted(torch.cat(batches).tolist()) == list(range(65))


def test_fit_is_a_pure_function_of_its_inputs() -> None:
    # Prepare: two independent trainers; the second trains another site in between
    site = tiny_data().sites["chemical_houston"]
    first, state = _trainer()
    second, _ = _trainer()
    second.fit(state, tiny_data().sites["aerospace_seattle"].train, "aerospace_seattle",
               _instructions())

    # Execute
    a = first.fit(state, site.train, "chemical_houston", _instructions())
    b = second.fit(state, site.train, "chemical_houston", _instructions())

    # Assert: bit-identical, and training changed the model
    assert all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    assert _distance(a.state, state) > 0
    assert a.num_examples == len(site.train)
    assert math.isfinite(a.metrics["train_loss"])


def test_fit_leaves_the_callers_random_state_alone() -> None:
    # Prepare
    trainer, state = _trainer()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)

    # Execute
    trainer.fit(state, tiny_data().sites["chemical_houston"].train, "x", _instructions())

    # Assert
    assert torch.equal(torch.rand(3), expected)


def test_another_round_shuffles_and_drops_out_differently() -> None:
    trainer, state = _trainer()
    train = tiny_data().sites["chemical_houston"].train
    a = trainer.fit(state, train, "s", _instructions(round_num=1))
    b = trainer.fit(state, train, "s", _instructions(round_num=2))
    assert _distance(a.state, b.state) > 0


def test_proximal_term_keeps_the_site_closer_to_the_global_model() -> None:
    # Prepare
    trainer, state = _trainer()
    train = tiny_data().sites["automotive_detroit"].train

    # Execute
    free = trainer.fit(state, train, "s", _instructions(mu=0.0))
    held = trainer.fit(state, train, "s", _instructions(mu=10.0))

    # Assert
    assert _distance(held.state, state) < _distance(free.state, state)


@pytest.mark.parametrize("model", ["lstm", "hybrid"])
def test_gradient_clipping_caps_the_norm_the_optimiser_steps_with(model: str) -> None:
    # Prepare: record every gradient as the step leaves it and as the optimiser sees it
    trainer, state = _trainer(model)
    assert trainer.training["gradient_clipping"] == 1.0  # the design document's setting
    clip = trainer.training["gradient_clipping"] = 0.8  # within these steps' norms (0.4-1.0)
    before: list[list[torch.Tensor]] = []
    after: list[list[torch.Tensor]] = []
    step, make_optimizer = trainer._step, trainer._optimizer

    def recording_step(*args: torch.Tensor) -> torch.Tensor:
        loss = step(*args)
        before.append([p.grad.clone() for p in trainer._params])
        return loss

    def recording_optimizer(round_num: int) -> object:
        optimizer = make_optimizer(round_num)
        original_step = optimizer.step

        def step_and_record() -> object:
            after.append([p.grad.clone() for p in trainer._params])
            return original_step()

        optimizer.step = step_and_record  # type: ignore[method-assign]
        return optimizer

    trainer._step, trainer._optimizer = recording_step, recording_optimizer  # type: ignore[method-assign,assignment]

    # Execute
    trainer.fit(state, tiny_data().sites["chemical_houston"].train, "s", _instructions())

    # Assert: the gradient the optimiser uses is the step's, scaled to a norm of at most the
    # clip (unchanged where it was below); some steps needed it, some did not
    norms = [math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads)) for grads in before]
    assert len(before) == len(after) > 10
    assert any(n > clip for n in norms) and any(n < clip for n in norms), sorted(norms)
    for raw, used, norm in zip(before, after, norms, strict=True):
        scale = min(1.0, clip / (norm + 1e-6))
        for g_raw, g_used in zip(raw, used, strict=True):
            torch.testing.assert_close(g_used, g_raw * scale, rtol=1e-5, atol=1e-8)
        used_norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in used))
        assert used_norm == pytest.approx(min(norm, clip), rel=1e-5)


def test_instructions_travel_as_a_flat_config() -> None:
    instructions = _instructions(round_num=4, mu=0.01)
    assert FitInstructions.from_config(instructions.to_config()) == instructions


def test_fast_dropout_keeps_the_expected_share_and_scales() -> None:
    # Prepare
    torch.manual_seed(0)

    # Execute
    mask = keep_mask(torch.Size([200_000]), 0.3, torch.float32)

    # Assert: kept values are scaled by 1 / 0.7, about 70 % are kept
    kept = mask[mask > 0]
    assert kept.unique().tolist() == pytest.approx([1 / 0.7], rel=1e-4)
    assert kept.numel() / mask.numel() == pytest.approx(0.7, abs=0.005)


def test_fast_dropout_swap_changes_no_state_and_is_identity_in_eval() -> None:
    # Prepare: two copies of one model, one with its dropout swapped
    trainer, _ = _trainer()
    plain, swapped = trainer.spec.build(seed=7).model, trainer.spec.build(seed=7).model
    x = tiny_data().sites["chemical_houston"].test.x[:8]

    # Execute
    replaced = use_fast_dropout(swapped)
    plain.eval()
    swapped.eval()

    # Assert
    assert replaced == sum(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    assert any(isinstance(m, FastDropout) for m in swapped.modules())
    assert set(swapped.state_dict()) == set(plain.state_dict())
    assert torch.equal(swapped(x), plain(x))
