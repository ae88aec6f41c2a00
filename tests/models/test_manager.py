"""ModelManager: models by id, round snapshots in memory and on disk, restore, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from networkfed.core.errors import CheckpointError, UnknownModelError, UnknownRoundError
from networkfed.models import ModelFactory, ModelManager, ModelWrapper


class Scaler(nn.Module):
    """A hand-made module with a parameter and an integer buffer."""

    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(width))
        self.register_buffer("seen", torch.tensor(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class Other(Scaler):
    pass


def nudge(wrapper: ModelWrapper, amount: float) -> None:
    """Change every float tensor, as a round of training would."""
    wrapper.set_parameters({name: t + amount if t.is_floating_point() else t + 1
                            for name, t in wrapper.get_parameters().items()})


def same_state(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.fixture(params=["memory", "disk"])
def manager(request, tmp_path) -> ModelManager:
    return ModelManager(tmp_path / "store" if request.param == "disk" else None)


def saved_three_rounds(manager: ModelManager) -> tuple[ModelWrapper, list[dict]]:
    wrapper = manager.create_and_register_model("site_a", "cnn", 3, 2, seed=0, fc_hidden=[8])
    states = []
    for round_num in range(3):
        nudge(wrapper, 0.1)
        manager.save_model_state(round_num=round_num, model_id="site_a",
                                 metrics={"accuracy": 0.5 + round_num / 10})
        states.append(wrapper.get_parameters())
    return wrapper, states


def test_restore_a_named_round_and_the_latest(manager):
    wrapper, states = saved_three_rounds(manager)
    nudge(wrapper, 5.0)

    assert manager.restore_model_state("site_a", round_num=1) == 1
    assert same_state(wrapper.get_parameters(), states[1])
    assert manager.restore_model_state("site_a") == 2
    assert same_state(wrapper.get_parameters(), states[2])


def test_snapshot_holds_state_and_metadata_and_leaves_the_model_alone(manager):
    wrapper, states = saved_three_rounds(manager)
    live = wrapper.get_parameters()

    state, metadata = manager.get_snapshot("site_a", 0)

    assert same_state(state, states[0]) and same_state(wrapper.get_parameters(), live)
    assert metadata["round"] == 0 and metadata["model_type"] == "cnn"
    assert metadata["metrics"] == {"accuracy": 0.5}
    assert metadata["config"]["overrides"] == {"fc_hidden": [8]}
    assert manager.list_rounds("site_a") == [0, 1, 2]


def test_metrics_and_extra_are_stored_as_strict_json(manager):
    manager.create_and_register_model("m", "lstm", 2, 2, hidden_size=4)

    manager.save_model_state("m", 0, metrics={"loss": float("nan"), "f1": torch.tensor(0.25)},
                             extra={"threshold": 0.4, "features": ("a", "b")})

    _, metadata = manager.get_snapshot("m", 0)
    assert metadata["metrics"] == {"loss": None, "f1": 0.25}
    assert metadata["extra"] == {"threshold": 0.4, "features": ["a", "b"]}
    with pytest.raises(TypeError, match=r"extra\.model"):
        manager.save_model_state("m", 1, extra={"model": object()})


def test_unknown_rounds_and_models_list_what_exists(manager):
    saved_three_rounds(manager)
    manager.create_and_register_model("empty", "cnn", 3, 2)

    with pytest.raises(UnknownRoundError, match="saved rounds: 0, 1, 2"):
        manager.restore_model_state("site_a", round_num=7)
    with pytest.raises(UnknownRoundError, match="saved rounds: none"):
        manager.get_snapshot("empty")
    with pytest.raises(UnknownModelError, match="'site_a', 'empty'"):
        manager.get_model("site_b")
    with pytest.raises(KeyError):
        manager.remove_model("site_b")
    assert manager.list_rounds("site_b") == []


def test_restoring_the_latest_of_a_model_without_rounds_changes_nothing(manager):
    wrapper = manager.create_and_register_model("fresh", "hybrid", 3, 2)
    before = wrapper.get_parameters()

    assert manager.restore_model_state("fresh") is None
    assert same_state(wrapper.get_parameters(), before)


@pytest.mark.parametrize("model_id", ["../escape", "", ".hidden", "a b", 7])
def test_bad_model_ids_are_rejected(manager, model_id):
    with pytest.raises(ValueError, match="invalid model id"):
        manager.create_and_register_model(model_id, "cnn", 3, 2)

    assert manager.list_models() == []


@pytest.mark.parametrize(("round_num", "message"), [(-1, ">= 0"), (1.5, "integer")])
def test_bad_round_numbers_are_rejected(manager, round_num, message):
    saved_three_rounds(manager)

    with pytest.raises(ValueError, match=message):
        manager.save_model_state("site_a", round_num)

    assert manager.list_rounds("site_a") == [0, 1, 2]


def test_an_id_cannot_be_registered_twice(manager):
    saved_three_rounds(manager)

    with pytest.raises(ValueError, match="already registered"):
        manager.create_and_register_model("site_a", "lstm", 3, 2)
    with pytest.raises(ValueError, match="already registered"):
        manager.register_model("site_a", Scaler())


def test_remove_model_forgets_it_and_deletes_its_files(manager):
    saved_three_rounds(manager)
    manager.create_and_register_model("keep", "cnn", 3, 2)

    manager.remove_model("site_a")

    assert manager.list_models() == ["keep"] and manager.list_rounds("site_a") == []
    if manager.storage_dir is not None:
        assert sorted(p.name for p in manager.storage_dir.iterdir()) == ["keep"]
        assert ModelManager(manager.storage_dir).list_models() == ["keep"]


# --- on disk ---------------------------------------------------------------------------------
def test_disk_layout_is_safetensors_plus_json_and_leaves_no_temp_files(tmp_path):
    manager = ModelManager(tmp_path)
    saved_three_rounds(manager)

    files = sorted(p.name for p in (tmp_path / "site_a").iterdir())

    assert files == ["model.json"] + [
        f"round_{r:04d}.{ext}" for r in range(3) for ext in ("json", "safetensors")
    ]
    model_json = json.loads((tmp_path / "site_a" / "model.json").read_text())
    assert model_json["model_type"] == "cnn"
    assert model_json["config"]["input_dim"] == 3 and model_json["config"]["num_classes"] == 2
    assert manager.model_info("site_a") == model_json
    assert model_json["class"].endswith("OptimizedCNNModel")


def test_a_new_manager_sees_every_model_and_round(tmp_path):
    first = ModelManager(tmp_path)
    _, states = saved_three_rounds(first)
    first.create_and_register_model("site_b", "lstm", 3, 2, hidden_size=8)
    first.save_model_state("site_b", 4)

    second = ModelManager(tmp_path)

    assert second.list_models() == ["site_a", "site_b"]
    assert second.list_rounds("site_a") == [0, 1, 2] and second.list_rounds("site_b") == [4]
    rebuilt = second.get_model("site_a")  # rebuilt from model.json at its latest round
    assert same_state(rebuilt.get_parameters(), states[2])
    assert second.restore_model_state("site_a", 0) == 0
    assert same_state(rebuilt.get_parameters(), states[0])
    assert second.get_model("site_b").model.lstm.hidden_size == 8
    assert second.get_snapshot("site_a", 1)[1] == first.get_snapshot("site_a", 1)[1]


def test_a_truncated_tensor_file_is_reported_by_name(tmp_path):
    manager = ModelManager(tmp_path)
    saved_three_rounds(manager)
    damaged = tmp_path / "site_a" / "round_0001.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:-17])

    with pytest.raises(CheckpointError, match=r"round_0001\.safetensors"):
        ModelManager(tmp_path).restore_model_state("site_a", 1)
    assert ModelManager(tmp_path).restore_model_state("site_a", 0) == 0


@pytest.mark.parametrize("target", ["round_0002.safetensors", "round_0002.json"])
def test_a_corrupted_file_is_reported_by_name(tmp_path, target):
    manager = ModelManager(tmp_path)
    saved_three_rounds(manager)
    damaged = tmp_path / "site_a" / target
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    with pytest.raises(CheckpointError, match=target.replace(".", r"\.")):
        ModelManager(tmp_path).get_snapshot("site_a", 2)


def test_a_corrupted_latest_round_stops_the_rebuild(tmp_path):
    manager = ModelManager(tmp_path)
    saved_three_rounds(manager)
    (tmp_path / "site_a" / "round_0002.safetensors").write_bytes(b"\x00" * 10)

    with pytest.raises(CheckpointError, match="round_0002"):
        ModelManager(tmp_path).get_model("site_a")


def test_a_hand_made_module_is_reloaded_when_its_class_is_registered_again(tmp_path):
    first = ModelManager(tmp_path)
    original = first.register_model("mine", Scaler())
    nudge(original, 0.5)
    first.save_model_state("mine", 3)
    second = ModelManager(tmp_path)

    with pytest.raises(CheckpointError, match="register_model"):
        second.get_model("mine")
    with pytest.raises(ValueError, match="Scaler"):
        second.register_model("mine", Other())
    again = second.register_model("mine", Scaler())

    assert same_state(again.get_parameters(), original.get_parameters())
    assert again.model.seen.dtype == torch.int64 and int(again.model.seen) == 1
    assert second.list_rounds("mine") == [3]


def test_a_custom_factory_type_is_rebuilt_while_registered(tmp_path):
    ModelFactory.register_model("scaler", lambda input_dim, num_classes: Scaler(input_dim))
    try:
        first = ModelManager(tmp_path)
        wrapper = first.create_and_register_model("s", "scaler", 4, 2)
        nudge(wrapper, 1.0)
        first.save_model_state("s", 0)
        rebuilt = ModelManager(tmp_path).get_model("s")
    finally:
        ModelFactory.unregister_model("scaler")

    assert same_state(rebuilt.get_parameters(), wrapper.get_parameters())
    with pytest.raises(CheckpointError, match="cannot rebuild"):
        ModelManager(tmp_path).get_model("s")


def test_storage_dir_is_created(tmp_path):
    target = tmp_path / "deep" / "checkpoints"

    ModelManager(target).create_and_register_model("a", "cnn", 2, 2)

    assert (target / "a" / "model.json").is_file() and isinstance(target, Path)
