"""``ModelManager``: models by id, and every round's snapshot of each, restorable.

Without ``storage_dir`` snapshots live in memory; with it they are files (see
:mod:`networkfed.models.checkpoints`) and a new manager on the same folder sees every model
and round saved before. A model from the registry is rebuilt from its ``model.json``; a
hand-made module is re-attached by registering an instance of the same class again. Either
way the model comes back in the state of its latest saved round.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from networkfed.core.errors import CheckpointError, UnknownModelError, UnknownRoundError
from networkfed.models import _checks
from networkfed.models._registry import ModelKey
from networkfed.models.checkpoints import MODEL_FILE, DiskStore, MemoryStore, jsonable
from networkfed.models.factory import ModelFactory
from networkfed.models.wrapper import ModelWrapper

__all__ = ["ModelManager"]

logger = logging.getLogger(__name__)

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")


def _class_path(module: nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


class ModelManager:
    """Register models by id, snapshot them per round, restore any round.

    Parameters
    ----------
    storage_dir
        Folder for the snapshots (created if needed); ``None`` keeps them in memory.
    """

    def __init__(self, storage_dir: str | Path | None = None) -> None:
        self.storage_dir = Path(storage_dir) if storage_dir is not None else None
        self._store = DiskStore(self.storage_dir) if self.storage_dir else MemoryStore()
        self._live: dict[str, ModelWrapper] = {}

    # --- models ------------------------------------------------------------------------------
    def create_and_register_model(
        self,
        model_id: str,
        model_type: ModelKey,
        input_dim: int,
        num_classes: int,
        *,
        seed: int | None = None,
        **overrides: Any,
    ) -> ModelWrapper:
        """Build a tuned model with :class:`ModelFactory` and register it as ``model_id``."""
        self._check_new(model_id)
        wrapper = ModelFactory.create_model(
            model_type, input_dim, num_classes, seed=seed, **overrides
        )
        return self._attach(model_id, wrapper)

    def register_model(self, model_id: str, model: nn.Module | ModelWrapper) -> ModelWrapper:
        """Register a module (or wrapper) as ``model_id`` and return its wrapper.

        If ``model_id`` already has saved history from an earlier manager, ``model`` must be
        of the same class; it is then loaded with the latest saved round.
        """
        wrapper = model if isinstance(model, ModelWrapper) else ModelWrapper(model)
        if model_id in self._live or model_id not in self.list_models():
            self._check_new(model_id)
            return self._attach(model_id, wrapper)
        saved_class = self._store.read_info(model_id).get("class")
        if saved_class != _class_path(wrapper.model):
            raise ValueError(
                f"model id {model_id!r} holds the history of a {saved_class}, not a "
                f"{_class_path(wrapper.model)}; remove_model({model_id!r}) or use another id"
            )
        self._live[model_id] = wrapper
        self._load_latest(model_id, wrapper)
        return wrapper

    def get_model(self, model_id: str) -> ModelWrapper:
        """The live model; one saved by an earlier manager is rebuilt at its latest round."""
        if model_id in self._live:
            return self._live[model_id]
        self._require(model_id)
        wrapper = self._rebuild(model_id)
        self._live[model_id] = wrapper
        self._load_latest(model_id, wrapper)
        return wrapper

    def list_models(self) -> list[str]:
        """Registered model ids, in registration order."""
        return self._store.model_ids()

    def model_info(self, model_id: str) -> dict[str, Any]:
        """How the model was built: ``model_type``, ``class`` and ``config``."""
        self._require(model_id)
        return self._store.read_info(model_id)

    def remove_model(self, model_id: str) -> None:
        """Forget ``model_id`` and delete its history (files included)."""
        self._require(model_id)
        self._store.remove(model_id)
        self._live.pop(model_id, None)

    # --- rounds ------------------------------------------------------------------------------
    def save_model_state(
        self,
        model_id: str,
        round_num: int,
        *,
        metrics: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Snapshot the model's full state as round ``round_num`` (saving a round again
        replaces it) and return the snapshot's metadata.

        ``metrics`` (e.g. the round's test metrics) and ``extra`` (any JSON-able facts the
        round needs later, such as the preprocessing spec) are stored with it.
        """
        wrapper = self.get_model(model_id)
        round_num = _checks.positive_int("round_num", round_num, minimum=0)
        info = self._store.read_info(model_id)
        metadata = {
            "model_id": model_id,
            "round": round_num,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model_type": info.get("model_type"),
            "config": info.get("config"),
            "metrics": jsonable(metrics or {}, "metrics"),
            "extra": jsonable(extra or {}, "extra"),
        }
        self._store.save(model_id, round_num, wrapper.get_parameters(), metadata)
        logger.debug("saved round %d of model %r", round_num, model_id)
        return metadata

    def list_rounds(self, model_id: str) -> list[int]:
        """Saved rounds of ``model_id``, ascending (empty for an unknown id)."""
        return self._store.rounds(model_id) if model_id in self.list_models() else []

    def get_snapshot(
        self, model_id: str, round_num: int | None = None
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """A round's state and metadata (latest when ``None``), leaving the live model alone.

        Raises
        ------
        UnknownModelError, UnknownRoundError
            Listing the registered models or the saved rounds.
        CheckpointError
            If the round's files are missing, truncated or corrupted.
        """
        self._require(model_id)
        rounds = self._store.rounds(model_id)
        chosen = rounds[-1] if round_num is None and rounds else round_num
        if chosen is None or chosen not in rounds:
            raise UnknownRoundError(model_id, chosen, rounds)
        return self._store.load(model_id, chosen)

    def restore_model_state(self, model_id: str, round_num: int | None = None) -> int | None:
        """Load round ``round_num`` (latest when ``None``) into the live model; return it.

        Restoring "the latest" of a model that has no saved round leaves it unchanged, logs
        a warning and returns ``None`` (the design document calls it that way); a named round
        that was never saved raises ``UnknownRoundError`` listing the saved ones.
        """
        wrapper = self.get_model(model_id)
        if round_num is None and not self._store.rounds(model_id):
            logger.warning("model %r has no saved round to restore; left unchanged", model_id)
            return None
        state, metadata = self.get_snapshot(model_id, round_num)
        wrapper.set_parameters(state)
        return int(metadata["round"])

    # --- internals ---------------------------------------------------------------------------
    def _require(self, model_id: str) -> None:
        if model_id not in self._live and model_id not in self.list_models():
            raise UnknownModelError(model_id, self.list_models())

    def _check_new(self, model_id: object) -> None:
        if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
            raise ValueError(
                f"invalid model id {model_id!r}: use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit"
            )
        if model_id in self._live or model_id in self.list_models():
            rounds = self._store.rounds(model_id)
            raise ValueError(
                f"model id {model_id!r} is already registered ({len(rounds)} saved rounds); "
                f"use get_model({model_id!r}) or remove_model({model_id!r}) first"
            )

    def _attach(self, model_id: str, wrapper: ModelWrapper) -> ModelWrapper:
        model_type = wrapper.model_type
        info = {
            "model_id": model_id,
            "model_type": jsonable(model_type) if model_type is not None else None,
            "class": _class_path(wrapper.model),
            "config": jsonable(wrapper.config, "config") if wrapper.config else None,
            "registered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "registered_ns": time.time_ns(),
        }
        self._store.write_info(model_id, info)
        self._live[model_id] = wrapper
        return wrapper

    def _rebuild(self, model_id: str) -> ModelWrapper:
        info = self._store.read_info(model_id)
        config = info.get("config")
        where = self.storage_dir / model_id / MODEL_FILE if self.storage_dir else model_id
        if info.get("model_type") is None or not isinstance(config, dict):
            raise CheckpointError(
                where,
                f"model {model_id!r} is a hand-made {info.get('class')}; register an instance "
                f"of that class with register_model({model_id!r}, model) to use its history",
            )
        try:
            return ModelFactory.create_model(
                info["model_type"],
                config["input_dim"],
                config["num_classes"],
                seed=config.get("seed"),
                **config.get("overrides", {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(where, f"cannot rebuild model {model_id!r}: {error}") from None

    def _load_latest(self, model_id: str, wrapper: ModelWrapper) -> None:
        rounds = self._store.rounds(model_id)
        if rounds:
            state, _ = self._store.load(model_id, rounds[-1])
            wrapper.set_parameters(state)
