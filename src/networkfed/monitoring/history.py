"""Every saved round of a run's global model: list them, and write one out as a model file.

The rounds live in the run folder's ``checkpoints/`` (a ``ModelManager`` storage folder,
model id ``global``); they are read with ``get_snapshot``, which verifies each file's
checksum and never changes the folder. :func:`restore_round` writes a round as a portable
pair — ``FILE.safetensors`` plus ``FILE.json`` — that :func:`load_restored_model` (or anyone
with safetensors and the JSON) rebuilds without the run folder.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import safetensors.torch
from torch import Tensor

from networkfed import __version__
from networkfed.core.errors import CheckpointError, ConfigError, RunFolderError, UnknownRoundError
from networkfed.data.bins import encoded_width
from networkfed.federated.callbacks import best_round
from networkfed.federated.regression import selection_score
from networkfed.models import ModelFactory, ModelManager, ModelWrapper
from networkfed.monitoring.files import atomic_path, atomic_write_text
from networkfed.monitoring.run_folder import (
    CHECKPOINTS_DIR,
    GLOBAL_MODEL_ID,
    read_metrics,
    require_run_folder,
    round_rows,
)
from networkfed.monitoring.run_writer import with_site_layers
from networkfed.trees.checkpoint import read_round, tree_rounds

__all__ = [
    "SavedRound",
    "load_restored_model",
    "restore_round",
    "saved_rounds",
    "validation_pr_auc_by_round",
]

logger = logging.getLogger(__name__)

FORMAT = "networkfed-model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SavedRound:
    """One saved round of the global model as ``history`` shows it.

    ``problem`` is set (and ``metrics`` empty) when the round's files fail their checks, so
    one corrupt round does not hide the others.
    """

    round: int
    saved_at: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    problem: str | None = None
    validation_pr_auc: float | None = None
    """Overall PR-AUC on the sites' validation windows (``metrics.jsonl``), if logged."""
    best: bool = False
    """The round with the highest validation PR-AUC (the earliest on a tie): the engine's
    ``best_round`` in ``summary.json``, found again here so interrupted runs have it too."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "saved_at": self.saved_at,
            "metrics": self.metrics,
            "threshold": self.threshold,
            "validation_pr_auc": self.validation_pr_auc,
            "best": self.best,
            "problem": self.problem,
        }


def open_checkpoints(run_dir: str | Path) -> tuple[ModelManager, list[int]]:
    """The run's ``ModelManager`` and the saved rounds of its global model (ascending).

    Raises
    ------
    RunFolderError
        If the folder or ``checkpoints/`` is missing, or no round of the global model is saved.
    """
    folder = require_run_folder(run_dir)
    if not (folder / CHECKPOINTS_DIR).is_dir():
        raise RunFolderError(folder, f"{CHECKPOINTS_DIR}/", "is missing (no saved rounds)")
    manager = ModelManager(storage_dir=folder / CHECKPOINTS_DIR)
    rounds = manager.list_rounds(GLOBAL_MODEL_ID)
    if not rounds:
        found = ", ".join(manager.list_models()) or "none"
        problem = f"holds no saved round of model '{GLOBAL_MODEL_ID}' (models found: {found})"
        raise RunFolderError(folder, f"{CHECKPOINTS_DIR}/", problem)
    return manager, sorted(rounds)


def saved_rounds(run_dir: str | Path) -> list[SavedRound]:
    """Every saved round with the overall test metrics stored beside it and its validation
    PR-AUC, the best round marked.

    The best round is the engine's rule (:func:`~networkfed.federated.callbacks.best_round`,
    validation PR-AUC, never test metrics), applied to the rounds logged in ``metrics.jsonl``.
    """
    validation = validation_pr_auc_by_round(run_dir)
    if tree_rounds(Path(run_dir)):  # an xgboost run: its boosters' metadata
        rounds = tree_rounds(Path(run_dir))
        described = [replace(_describe_tree(Path(run_dir), r), validation_pr_auc=validation.get(r))
                     for r in rounds]
    else:
        manager, rounds = open_checkpoints(run_dir)
        described = [
            replace(_describe(manager, round_num), validation_pr_auc=validation.get(round_num))
            for round_num in rounds
        ]
    logged = {r: validation[r] for r in rounds if r in validation}
    if not logged:
        return described
    best = best_round(logged)
    return [replace(saved, best=saved.round == best) for saved in described]


def _describe_tree(run_dir: Path, round_num: int) -> SavedRound:
    """One saved booster round, from its metadata file (a broken one is shown, not raised)."""
    try:
        meta = read_round(run_dir, round_num)[2]
    except CheckpointError as error:
        return SavedRound(round_num, problem=str(error))
    return SavedRound(round_num, metrics=dict(meta.get("metrics", {})),
                      threshold=meta.get("threshold"))


def validation_pr_auc_by_round(run_dir: str | Path) -> dict[int, float]:
    """Overall validation PR-AUC of the global model per round, from ``metrics.jsonl``.

    Empty when the file is missing or unreadable (``history`` still lists the checkpoints);
    rounds whose PR-AUC is undefined (no failure in validation) are left out.
    """
    try:
        metrics = read_metrics(Path(run_dir))
    except RunFolderError as error:
        logger.info("no validation metrics for the best round: %s", error)
        return {}
    rows = round_rows(metrics, split="val")
    # a RUL run ranks rounds by minus the validation RMSE (regression.selection_score)
    scores = {int(row["round"]): selection_score(row.dropna().to_dict())
              for _, row in rows.iterrows()}
    return {r: float(v) for r, v in scores.items()  # type: ignore[arg-type]
            if v is not None and math.isfinite(float(v))}


def restore_round(
    run_dir: str | Path, round_num: int, out: str | Path, site_id: str | None = None
) -> tuple[Path, Path]:
    """Write round ``round_num`` to ``out`` (safetensors) and its metadata to ``out``'s ``.json``.

    After a FedBN / FedPer run, ``site_id`` writes that site's model (its own layers).

    The metadata (model type and config, preprocessing, threshold, metrics, source run) is
    also embedded in the safetensors header, so the tensor file alone is self-describing.

    Raises
    ------
    UnknownRoundError
        If the round was never saved; lists the saved rounds.
    ConfigError
        If ``out`` ends in ``.json`` (that name is reserved for the metadata), or ``site_id``
        is not one of a FedBN / FedPer run's sites.
    """
    if tree_rounds(Path(run_dir)):
        raise ConfigError("run", str(run_dir), "a network run (an xgboost run's booster is "
                          f"written by: networkfed export --run {run_dir} --round {round_num} "
                          "--format json)")
    target = Path(out)
    sidecar = target.with_suffix(".json")
    if sidecar == target:
        raise ConfigError("--out", str(out), "a model file path such as model.safetensors")
    manager, rounds = open_checkpoints(run_dir)
    if round_num not in rounds:
        raise UnknownRoundError(GLOBAL_MODEL_ID, round_num, rounds)
    state, snapshot = manager.get_snapshot(GLOBAL_MODEL_ID, round_num)
    state = with_site_layers(Path(run_dir), round_num, state, site_id)
    metadata = _restored_metadata(Path(run_dir), snapshot)
    if site_id is not None:
        metadata["site"] = site_id
    header = {"networkfed": json.dumps(metadata)}
    with atomic_path(target) as temp:
        safetensors.torch.save_file(_contiguous(state), str(temp), metadata=header)
    atomic_write_text(sidecar, json.dumps(metadata, indent=2) + "\n")
    logger.info("restored round %d of %s to %s", round_num, run_dir, target)
    return target, sidecar


def load_restored_model(path: str | Path) -> tuple[ModelWrapper, dict[str, Any]]:
    """Rebuild the model written by :func:`restore_round` and return it with its metadata.

    Reads the metadata from ``path``'s ``.json`` or, when that is absent, from the file's
    own safetensors header.
    """
    file = Path(path)
    metadata = _read_restored_metadata(file)
    model_type, input_dim, num_classes, overrides = _build_arguments(file, metadata)
    wrapper = ModelFactory.create_model(model_type, input_dim, num_classes, **overrides)
    try:
        wrapper.set_parameters(safetensors.torch.load_file(str(file)))
    except (ValueError, OSError) as error:
        raise CheckpointError(file, f"does not fit a {model_type} model: {error}") from None
    return wrapper, metadata


def _describe(manager: ModelManager, round_num: int) -> SavedRound:
    try:
        _, metadata = manager.get_snapshot(GLOBAL_MODEL_ID, round_num)
    except CheckpointError as error:
        return SavedRound(round=round_num, problem=str(error))
    extra, metrics = metadata.get("extra") or {}, metadata.get("metrics") or {}
    threshold = extra.get("threshold", metrics.get("threshold"))
    return SavedRound(
        round=round_num,
        saved_at=metadata.get("saved_at"),
        metrics=dict(metrics),
        threshold=float(threshold) if isinstance(threshold, (int, float)) else None,
    )


def _restored_metadata(run_dir: Path, snapshot: dict[str, Any]) -> dict[str, Any]:
    extra = snapshot.get("extra") or {}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "networkfed_version": __version__,
        "source_run": str(run_dir.resolve()),
        "model_id": GLOBAL_MODEL_ID,
        "round": snapshot.get("round"),
        "saved_at": snapshot.get("saved_at"),
        "model_type": snapshot.get("model_type") or extra.get("model_type"),
        "config": snapshot.get("config"),
        "preprocessing": extra.get("preprocessing"),
        "threshold": extra.get("threshold"),
        "model_overrides": extra.get("model_overrides"),
        "metrics": snapshot.get("metrics") or {},
    }


def _read_restored_metadata(file: Path) -> dict[str, Any]:
    sidecar = file.with_suffix(".json")
    try:
        if sidecar.is_file() and sidecar != file:
            document = json.loads(sidecar.read_text(encoding="utf-8"))
        else:
            with safetensors.safe_open(str(file), framework="pt") as handle:
                document = json.loads((handle.metadata() or {})["networkfed"])
    except (OSError, KeyError, ValueError) as error:
        raise CheckpointError(file, f"has no readable NetworkFed metadata ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(file, f"metadata is not a {FORMAT} document")
    return document


def _build_arguments(file: Path, metadata: dict[str, Any]) -> tuple[str, int, int, dict]:
    """Model type, input size, classes and overrides: from the manager's config when saved,
    else from the engine's ``extra`` (preprocessing gives the input size)."""
    config, model_type = metadata.get("config"), metadata.get("model_type")
    if isinstance(config, dict) and model_type and "input_dim" in config:
        return (
            model_type,
            config["input_dim"],
            config.get("num_classes", 2),
            config.get("overrides") or {},
        )
    preprocessing = metadata.get("preprocessing") or {}
    if model_type and preprocessing.get("feature_names"):
        overrides = metadata.get("model_overrides") or {}
        inputs = len(preprocessing["feature_names"]) + encoded_width(
            preprocessing.get("bin_edges", []))
        return model_type, inputs, 2, overrides
    raise CheckpointError(file, "metadata lacks the model type and config needed to rebuild it")


def _contiguous(state: dict[str, Tensor]) -> dict[str, Tensor]:
    return {name: tensor.contiguous() for name, tensor in state.items()}
