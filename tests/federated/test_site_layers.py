"""FedBN / FedPer: each site trains and is scored with its own BatchNorm layers / output layer;
the rest is shared."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from engine_helpers import metric_values, tiny_config, tiny_data
from networkfed.api import run_federated
from networkfed.core.errors import CheckpointError, ConfigError
from networkfed.federated.callbacks import Callback
from networkfed.federated.results import RoundResult
from networkfed.federated.site_layers import SiteLayers, batchnorm_keys, head_keys
from networkfed.federated.types import SiteUpdate
from networkfed.models import ModelFactory, ModelManager
from networkfed.monitoring.history import load_restored_model, restore_round
from networkfed.monitoring.run_writer import read_site_layers
from networkfed.serving.checkpoint import load_served_model

CONFIG = tiny_config(model="cnn", fedbn=True)


class RecordUpdates(Callback):
    """Keeps every site's trained state, by round."""

    def __init__(self) -> None:
        self.updates: dict[int, dict[str, SiteUpdate]] = {}

    def on_site_trained(self, round_num: int, update: SiteUpdate) -> None:
        self.updates.setdefault(round_num, {})[update.site_id] = update


class StopAt(Callback):
    """Ctrl-C after a round's metrics, before its checkpoint (passed as ``progress``)."""

    def __init__(self, round_num: int) -> None:
        self.round_num = round_num

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        if result.round_num == self.round_num:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def fedbn_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RecordUpdates]:
    folder = tmp_path_factory.mktemp("fedbn") / "run"
    recorder = RecordUpdates()
    run_federated(CONFIG, tiny_data(), run_dir=folder, callbacks=[recorder])
    return folder, recorder


def _global_state(run_dir: Path, round_num: int) -> dict[str, torch.Tensor]:
    state, _ = ModelManager(run_dir / "checkpoints").get_snapshot("global", round_num)
    return state


def test_batchnorm_keys_name_every_batchnorm_tensor_and_nothing_else() -> None:
    cnn = ModelFactory.create_model("cnn", 10, 2, sequence_length=10).model
    lstm = ModelFactory.create_model("lstm", 10, 2, sequence_length=10).model
    hybrid = ModelFactory.create_model("hybrid", 10, 2, sequence_length=10).model

    keys = batchnorm_keys(cnn)

    expected = {f"bn{i}.{name}" for i in range(1, cnn.num_blocks + 1) for name in
                ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
    assert keys == expected
    assert batchnorm_keys(lstm) == frozenset()
    assert batchnorm_keys(hybrid) and batchnorm_keys(hybrid) < set(hybrid.state_dict())


def test_head_keys_name_the_output_layer_of_every_model() -> None:
    heads = {name: head_keys(ModelFactory.create_model(name, 10, 2, sequence_length=10).model)
             for name in ("cnn", "lstm", "hybrid")}

    assert heads == {"cnn": {"fc3.weight", "fc3.bias"}, "lstm": {"fc2.weight", "fc2.bias"},
                     "hybrid": {"fc2.weight", "fc2.bias"}}


def test_fedper_keeps_each_site_s_output_layer_and_shares_the_rest(tmp_path: Path) -> None:
    # Prepare
    config = tiny_config(model="lstm", fedper=True)

    # Execute
    fedper = run_federated(config, tiny_data(), run_dir=tmp_path / "run")
    plain = run_federated(config.model_copy(update={"fedper": False}), tiny_data())
    with_workers = run_federated(config.model_copy(update={"workers": 2}), tiny_data())

    # Assert: only the output layer stays at the sites, and it changes the run
    saved, sites = read_site_layers(tmp_path / "run", 2) or (None, [])
    assert saved is not None and saved.keys == {"fc2.weight", "fc2.bias"}
    assert sorted(saved.states) == sorted(sites)
    first, second, *_ = sorted(saved.states)
    assert not torch.equal(saved.states[first]["fc2.bias"], saved.states[second]["fc2.bias"])
    assert fedper.summary()["final"] != plain.summary()["final"]
    assert metric_values(with_workers.summary()) == metric_values(fedper.summary())


def test_site_layers_round_trip_through_bytes_and_personalize_only_their_keys() -> None:
    layers = SiteLayers({"bn.weight", "bn.running_var"})
    trained = {"bn.weight": torch.tensor([1.0, 2.0]), "bn.running_var": torch.tensor([3.0, 4.0]),
               "fc.weight": torch.ones(2, 2)}
    layers.keep("plant/a", trained)
    global_state = {"bn.weight": torch.zeros(2), "bn.running_var": torch.ones(2),
                    "fc.weight": torch.full((2, 2), 7.0)}

    loaded, sites = SiteLayers.from_bytes(layers.to_bytes(["plant/a", "b"]), "memory")

    assert sites == ["b", "plant/a"]
    own = loaded.personalize(global_state, "plant/a")
    torch.testing.assert_close(own["bn.weight"], trained["bn.weight"])
    torch.testing.assert_close(own["fc.weight"], global_state["fc.weight"])  # shared layer
    assert loaded.personalize(global_state, "b")["bn.weight"] is global_state["bn.weight"]
    with pytest.raises(CheckpointError, match="memory"):
        SiteLayers.from_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}", "memory")


def test_each_site_starts_from_shared_layers_and_its_own_batchnorm(
    fedbn_run: tuple[Path, RecordUpdates],
) -> None:
    run_dir, recorder = fedbn_run
    keys = batchnorm_keys(ModelFactory.create_model("cnn", 10, 2, sequence_length=10).model)
    round_one = recorder.updates[1]

    saved, sites = read_site_layers(run_dir, 1) or (None, [])
    global_one = _global_state(run_dir, 1)

    # Every site's layers of round 1 are what it trained, and they differ between sites.
    assert saved is not None and sorted(saved.states) == sorted(sites) == sorted(round_one)
    for site, update in round_one.items():
        for key in keys:
            torch.testing.assert_close(saved.states[site][key], update.state[key], rtol=0, atol=0)
    first, second, *_ = sorted(round_one)
    assert not torch.equal(saved.states[first]["bn1.running_mean"],
                           saved.states[second]["bn1.running_mean"])
    # The global checkpoint still holds the example-weighted average (the fleet's layers).
    sizes = {site: update.num_examples for site, update in round_one.items()}
    weight = torch.stack([round_one[s].state["bn1.weight"] * sizes[s] for s in round_one])
    torch.testing.assert_close(global_one["bn1.weight"], weight.sum(0) / sum(sizes.values()))


def test_served_site_model_reproduces_the_run_s_predictions_for_that_site(
    fedbn_run: tuple[Path, RecordUpdates], caplog: pytest.LogCaptureFixture,
) -> None:
    run_dir, _ = fedbn_run
    data = tiny_data()
    predictions = pd.read_csv(run_dir / "predictions.csv")

    for site in data.site_ids:
        served = load_served_model(run_dir, site_id=site)
        expected = predictions.query("mode == 'federated' and site == @site")["probability"]
        np.testing.assert_allclose(served.predict_proba(data.sites[site].test.x),
                                   expected.to_numpy(), rtol=0, atol=1e-6)
        assert served.preprocessing_document()["site"] == site

    with caplog.at_level(logging.WARNING, logger="networkfed.monitoring"):
        fleet = load_served_model(run_dir)
    assert "keeps layers per site" in caplog.text
    fleet_state = fleet.module.classifier.state_dict()
    torch.testing.assert_close(fleet_state["bn1.weight"], _global_state(run_dir, 2)["bn1.weight"])
    with pytest.raises(ConfigError, match="automotive_detroit"):
        load_served_model(run_dir, site_id="nowhere")


def test_restore_writes_the_site_s_own_model(
    fedbn_run: tuple[Path, RecordUpdates], tmp_path: Path
) -> None:
    run_dir, _ = fedbn_run
    site = tiny_data().site_ids[0]
    saved, _ = read_site_layers(run_dir, 2) or (None, [])

    model_file, _ = restore_round(run_dir, 2, tmp_path / "site.safetensors", site)

    wrapper, metadata = load_restored_model(model_file)
    assert metadata["site"] == site and saved is not None
    restored = wrapper.get_parameters()
    torch.testing.assert_close(restored["bn2.running_var"], saved.states[site]["bn2.running_var"])
    torch.testing.assert_close(restored["fc1.weight"], _global_state(run_dir, 2)["fc1.weight"])


def test_fedbn_changes_the_run_and_workers_do_not() -> None:
    shared = run_federated(CONFIG.model_copy(update={"fedbn": False}), tiny_data())
    in_process = run_federated(CONFIG, tiny_data())
    with_workers = run_federated(CONFIG.model_copy(update={"workers": 2}), tiny_data())

    assert in_process.summary()["final"] != shared.summary()["final"]
    assert metric_values(with_workers.summary()) == metric_values(in_process.summary())


def test_fedbn_on_a_model_without_batchnorm_is_plain_fedavg(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = tiny_config(model="lstm", fedbn=True)
    with caplog.at_level(logging.WARNING, logger="networkfed.federated"):
        fedbn = run_federated(config, tiny_data())
    plain = run_federated(config.model_copy(update={"fedbn": False}), tiny_data())

    assert "no BatchNorm layer" in caplog.text
    assert metric_values(fedbn.summary()) == metric_values(plain.summary())


def test_resume_restores_every_site_s_layers(
    fedbn_run: tuple[Path, RecordUpdates], tmp_path: Path
) -> None:
    uninterrupted, _ = fedbn_run
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_federated(CONFIG, tiny_data(), run_dir=run_dir, progress=StopAt(2))

    run_federated(CONFIG, tiny_data(), run_dir=run_dir, resume=True)

    def lines(folder: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]

    assert lines(run_dir) == lines(uninterrupted)
    resumed, expected = read_site_layers(run_dir, 2), read_site_layers(uninterrupted, 2)
    assert resumed is not None and expected is not None
    for site, layers in expected[0].states.items():
        for key, tensor in layers.items():
            assert torch.equal(resumed[0].states[site][key], tensor), (site, key)
