"""Load one round's global model from a run folder, with the preprocessing it was trained on.

A run folder is all ``predict`` and ``export`` need: each round's checkpoint under
``checkpoints/`` holds the weights and, in its metadata's ``extra``, the
:class:`~networkfed.data.types.PreprocessingSpec`, the alarm threshold chosen on validation data,
the model type and its overrides. The snapshot is read with ``ModelManager.get_snapshot`` so
nothing in the folder is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from networkfed.core.enums import ModelType
from networkfed.core.errors import CheckpointError, RunFolderError, UnknownRoundError
from networkfed.data.types import PreprocessingSpec
from networkfed.models import ModelFactory, ModelManager
from networkfed.monitoring.run_writer import with_site_layers
from networkfed.trees.checkpoint import tree_rounds
from networkfed.trees.serving import TreeServedModel, load_tree_model

CHECKPOINTS_DIR, GLOBAL_MODEL_ID = "checkpoints", "global"
REQUIRED_EXTRA = ("preprocessing", "threshold", "model_type")


class FailureProbability(nn.Module):
    """A classifier whose output is the failure probability ``softmax(logits)[:, 1]``.

    Predict and export share this module, so the exported graph computes exactly what
    ``networkfed predict`` reports (softmax inside the graph, no post-processing on the edge).
    """

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: Tensor) -> Tensor:
        return torch.softmax(self.classifier(x), dim=-1)[:, 1]


class RemainingLife(nn.Module):
    """A one-output network of a RUL run whose output is the remaining life in cycles.

    The network learned the target divided by the run's RUL cap
    (:mod:`networkfed.federated.regression`); the cap is a buffer here, so predict, the
    exported graph and the engine's evaluation compute the same cycles.
    """

    def __init__(self, regressor: nn.Module, target_scale: float) -> None:
        super().__init__()
        self.regressor = regressor
        self.register_buffer("target_scale", torch.tensor(float(target_scale)))

    def forward(self, x: Tensor) -> Tensor:
        return self.regressor(x)[:, 0] * self.target_scale


def is_rul_spec(spec: PreprocessingSpec) -> bool:
    """True for the preprocessing of a RUL run (``task = "rul"``)."""
    return spec.source_options.get("task") == "rul"


@dataclass(frozen=True)
class ServedModel:
    """One round's global model, ready for inference (evaluation mode, CPU).

    Attributes
    ----------
    module
        :class:`FailureProbability` around the round's network; maps ``(n, T, F)`` float32
        windows to ``(n,)`` failure probabilities.
    threshold
        Alarm threshold chosen on validation data when the round was trained.
    """

    run_dir: Path
    round_num: int
    model_type: ModelType
    model_overrides: dict[str, Any]
    preprocessing: PreprocessingSpec
    threshold: float
    module: nn.Module
    """:class:`FailureProbability`, or :class:`RemainingLife` after a RUL run."""
    site_id: str | None = None
    """The site whose own layers the model holds (FedBN / FedPer) or whose data it is for."""

    def predict_proba(self, x: Tensor, batch_size: int = 4096) -> np.ndarray:
        """Failure probability of every window in ``x``, as float64 for metrics."""
        chunks = []
        with torch.inference_mode():
            for start in range(0, int(x.shape[0]), batch_size):
                chunks.append(self.module(x[start : start + batch_size]).double().numpy())
        return np.concatenate(chunks) if chunks else np.zeros(0)

    def preprocessing_document(self) -> dict[str, Any]:
        """What a consumer of an exported model needs beside it (``FILE.preprocessing.json``)."""
        return served_model_document(
            self,
            "float32 windows of shape (batch, sequence_length, len(feature_names)), "
            "standardised with mean/std in feature order, then (when bin_edges is not empty) "
            "each feature's piecewise-linear bin columns appended: clip((x - lo) / (hi - lo), "
            "0, 1) for consecutive edges lo, hi of that feature",
            rul_output="remaining useful life per window, in cycles (capped at rul_cap)")


def served_model_document(model: ServedModel | TreeServedModel, model_input: str, *,
                          rul_output: str) -> dict[str, Any]:
    """The ``FILE.preprocessing.json`` of an exported ``model``: the preprocessing, threshold
    and provenance every served model has, and how this kind of model reads its input
    (``model_input``) and what it outputs (``rul_output`` after a RUL run)."""
    return {
        "preprocessing": model.preprocessing.to_dict(),
        "threshold": model.threshold,
        "model_type": model.model_type.value,
        "model_overrides": model.model_overrides,
        "round": model.round_num,
        **({"site": model.site_id} if model.site_id is not None else {}),
        "run_dir": str(model.run_dir),
        "input": model_input,
        "output": (rul_output if is_rul_spec(model.preprocessing) else
                   "failure probability per window; alarm when probability >= threshold"),
    }


def _threshold(value: object) -> float:
    """The saved alarm threshold; NaN where there is none (a RUL run)."""
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def saved_rounds(run_dir: str | Path) -> list[int]:
    """Rounds with a checkpoint of the global model, ascending; the folder must exist."""
    if tree_rounds(Path(run_dir)):
        return tree_rounds(Path(run_dir))
    manager = _manager(Path(run_dir))
    return sorted(manager.list_rounds(GLOBAL_MODEL_ID))


def load_served_model(
    run_dir: str | Path, round_num: int | None = None, site_id: str | None = None
) -> ServedModel:
    """Rebuild round ``round_num`` (latest when ``None``) of a run's global model.

    After a FedBN / FedPer run, ``site_id`` puts that site's own layers of the round in
    place of the averaged ones (what the run scored the site with); without it, or for a site
    that had not trained by that round, the model keeps the averaged layers — what a new site
    would start from. Otherwise ``site_id`` changes nothing here (see ``predict_file``).

    Raises
    ------
    RunFolderError
        If the folder or its checkpoints are missing.
    ConfigError
        If ``site_id`` is not one of a FedBN / FedPer run's sites.
    UnknownRoundError
        If ``round_num`` was never saved; the message lists the saved rounds.
    CheckpointError
        If the checkpoint lacks the preprocessing metadata or its weights do not fit.
    """
    folder = Path(run_dir)
    if tree_rounds(folder):  # an xgboost run: its booster, not a network
        return load_tree_model(folder, round_num, site_id)  # type: ignore[return-value]
    manager = _manager(folder)
    rounds = sorted(manager.list_rounds(GLOBAL_MODEL_ID))
    if not rounds:
        raise RunFolderError(folder, CHECKPOINTS_DIR, "holds no saved round of the global model")
    chosen = rounds[-1] if round_num is None else round_num
    if chosen not in rounds:
        raise UnknownRoundError(GLOBAL_MODEL_ID, chosen, rounds)
    state, metadata = manager.get_snapshot(GLOBAL_MODEL_ID, chosen)
    state = with_site_layers(folder, chosen, state, site_id)
    served = _build(folder, chosen, state, metadata, _extra(folder, chosen, metadata))
    return replace(served, site_id=site_id) if site_id is not None else served


def _manager(folder: Path) -> ModelManager:
    if not folder.is_dir():
        raise RunFolderError(folder, "", "does not exist or is not a folder")
    checkpoints = folder / CHECKPOINTS_DIR
    if not checkpoints.is_dir():
        problem = "is missing (is this a NetworkFed run folder?)"
        raise RunFolderError(folder, CHECKPOINTS_DIR, problem)
    return ModelManager(storage_dir=checkpoints)


def _extra(folder: Path, round_num: int, metadata: dict[str, Any]) -> dict[str, Any]:
    extra = metadata.get("extra") or {}
    missing = [key for key in REQUIRED_EXTRA if key not in extra]
    if missing:
        raise CheckpointError(
            folder / CHECKPOINTS_DIR / GLOBAL_MODEL_ID,
            f"round {round_num} lacks {missing} in its metadata; it cannot be served",
        )
    return extra


def _build(
    folder: Path,
    round_num: int,
    state: dict[str, Tensor],
    metadata: dict[str, Any],
    extra: dict[str, Any],
) -> ServedModel:
    """The model as the manager built it (``config``), weights of the round, preprocessing.

    The snapshot's ``config`` (input_dim, num_classes, overrides) is what the engine really
    built; ``extra`` repeats the type and overrides for readers without a manager.
    """
    spec = PreprocessingSpec.from_dict(extra["preprocessing"])
    model_type = ModelType.parse(extra["model_type"])
    config = metadata.get("config") or {}
    overrides = dict(config.get("overrides", extra.get("model_overrides")) or {})
    where = folder / CHECKPOINTS_DIR / GLOBAL_MODEL_ID
    try:
        wrapper = ModelFactory.create_model(
            model_type, config.get("input_dim", spec.input_dim), config.get("num_classes", 2),
            **overrides,
        )
        wrapper.set_parameters(state)
    except ValueError as error:
        raise CheckpointError(where, f"round {round_num} does not fit its model: {error}") from None
    module: nn.Module = FailureProbability(wrapper.model).eval()
    if is_rul_spec(spec):
        module = RemainingLife(wrapper.model, float(spec.source_options["rul_cap"])).eval()
    return ServedModel(
        run_dir=folder,
        round_num=round_num,
        model_type=model_type,
        model_overrides=overrides,
        preprocessing=spec,
        threshold=_threshold(extra["threshold"]),
        module=module,
    )
