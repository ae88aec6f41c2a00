"""The engine's rounds through GridRunner and the real ClientApp (in-memory grid, no Ray)."""

from __future__ import annotations

import pytest
import torch
from flower_fakes import FakeGrid

from networkfed.api import RunSetup, model_settings, run_federated
from networkfed.core.errors import TrainingError
from networkfed.data import DataConfig, load_federated_data
from networkfed.federated.config import RunConfig
from networkfed.federated.engine import InProcessEngine
from networkfed.federated.strategies import build_strategy
from networkfed.federated.workers import make_runner
from networkfed.flower.engine import run_rounds, site_setup
from networkfed.flower.grid_runner import GridRunner

DATA = DataConfig(rows_per_site=400)


def _setup(config: RunConfig) -> RunSetup:
    data = load_federated_data(config.data, config.seed)
    spec, training = model_settings(config, data)
    return RunSetup(config, data, spec, training, build_strategy(config.strategy),
                    spec.build(seed=config.seed), callbacks=[])


def _runner(setup: RunSetup, grid: FakeGrid, **options) -> GridRunner:
    runner = GridRunner(grid, site_setup(setup, deployed=False),
                        min_fit_clients=setup.config.min_fit_clients, timeout=2.0, **options)
    runner.discover(min_nodes=len(setup.data.sites), wait=1.0)
    return runner


def _partitions(n: int) -> dict[int, dict[str, int]]:
    return {100 + i: {"partition-id": i, "num-partitions": n} for i in range(n)}


def test_rounds_over_flower_messages_equal_the_in_process_engine():
    # Prepare
    config = RunConfig(data=DATA, rounds=2, local_epochs=1, workers=0, seed=3)
    expected = run_federated(config)
    setup = _setup(config.model_copy(update={"engine": "flower"}))
    grid = FakeGrid(_partitions(3))
    # Execute
    result = run_rounds(setup, _runner(setup, grid))
    # Assert: same numbers, every site's work went through a message
    assert result.last.overall == expected.last.overall
    final = setup.model.get_parameters()
    for key, value in expected_model(config).items():
        torch.testing.assert_close(final[key], value, rtol=0, atol=1e-5)
    kinds = [m.metadata.message_type for m in grid.sent]
    assert kinds.count("train") == 6 and kinds.count("evaluate") == 9 and kinds.count("query") == 3


def test_fedbn_over_flower_messages_equals_the_in_process_engine():
    # Prepare: the server keeps each site's BatchNorm and sends it in that site's message
    config = RunConfig(data=DATA, rounds=2, local_epochs=1, workers=0, seed=3, fedbn=True)
    expected = run_federated(config)
    setup = _setup(config.model_copy(update={"engine": "flower"}))
    # Execute
    result = run_rounds(setup, _runner(setup, FakeGrid(_partitions(3))))
    # Assert
    assert result.last.overall == expected.last.overall
    assert result.last.evaluation.per_site == expected.last.evaluation.per_site


def expected_model(config: RunConfig) -> dict[str, torch.Tensor]:
    """The final global model of the in-process engine on the same settings."""
    setup = _setup(config)
    runner = make_runner(setup.spec, setup.training, setup.data.sites, 0)
    InProcessEngine(config, setup.data, setup.model, setup.spec, setup.training, setup.strategy,
                    runner, []).run()
    return setup.model.get_parameters()


def test_discovery_maps_every_site_to_its_node():
    setup = _setup(RunConfig(data=DATA, workers=0, engine="flower"))
    runner = _runner(setup, FakeGrid(_partitions(3)))
    assert runner.nodes == {site: 100 + i for i, site in enumerate(setup.data.site_ids)}


def test_a_silent_site_is_left_out_when_enough_others_reply(caplog):
    # Prepare
    config = RunConfig(data=DATA, rounds=1, local_epochs=1, workers=0, min_fit_clients=2,
                       engine="flower")
    setup = _setup(config)
    grid = FakeGrid(_partitions(3))
    runner = _runner(setup, grid, straggler_timeout=0.2)
    grid.silent.add(101)
    # Execute
    result = run_rounds(setup, runner)
    # Assert
    silent_site = setup.data.site_ids[1]
    assert silent_site not in result.last.trained and len(result.last.trained) == 2
    assert result.last.evaluation.per_site[silent_site]["num_examples"] == 0
    assert "did not reply" in caplog.text


def test_too_few_replies_stop_the_round_with_a_clear_message():
    setup = _setup(RunConfig(data=DATA, rounds=1, local_epochs=1, workers=0, engine="flower"))
    grid = FakeGrid(_partitions(3))
    runner = _runner(setup, grid, straggler_timeout=0.2)
    grid.silent.add(102)
    with pytest.raises(TrainingError, match="only 2 of 3 sampled sites replied"):
        run_rounds(setup, runner)
