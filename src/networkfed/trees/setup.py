"""A tree run composed from the networks' parts: run folder, metrics file, history, display.

:func:`compose_trees` is what :func:`networkfed.api.run_federated` calls for
``model='xgboost'`` instead of its tensor composition; the callbacks that only make sense for
tensors (the training monitor's parameter norm, the torch checkpoints) are replaced by
:class:`TreeCheckpointCallback` and :class:`TreeMetricsFileCallback`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from networkfed.core.errors import CheckpointError, ConfigError
from networkfed.data.types import FederatedData
from networkfed.federated.callbacks import Callback, EngineView
from networkfed.federated.config import RunConfig
from networkfed.federated.results import RoundResult, RunResult
from networkfed.monitoring.callbacks import MetricsFileCallback, RunFolderCallback
from networkfed.monitoring.run_writer import jsonable, write_resume_state
from networkfed.monitoring.tracking import MlflowCallback, tracking_store
from networkfed.trees.booster import tree_count
from networkfed.trees.checkpoint import read_round, write_round
from networkfed.trees.engine import TreeEngine
from networkfed.trees.features import tree_feature_names
from networkfed.trees.params import tree_hparams

__all__ = ["TreeCheckpointCallback", "TreeMetricsFileCallback", "TreeSetup", "compose_trees",
           "run_trees"]


@dataclass
class TreeSetup:
    """What :func:`run_trees` needs (the tree twin of :class:`networkfed.api.RunSetup`)."""

    config: RunConfig
    data: FederatedData
    hparams: dict[str, float | int]
    callbacks: list[Callback]
    run_dir: Path | None = None
    snapshot: dict[str, Any] | None = None
    model: bytes | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class TreeCheckpointCallback(Callback):
    """Every round's booster and metadata (:mod:`networkfed.trees.checkpoint`), then the
    resume state naming that round (so a resume always finds its booster)."""

    def __init__(self, run_dir: Path, extra: Mapping[str, Any]) -> None:
        self.run_dir, self.extra = run_dir, dict(extra)
        self._engine: TreeEngine | None = None

    def on_train_begin(self, engine: EngineView) -> None:
        self._engine = engine  # type: ignore[assignment]

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        if self._engine is None:
            raise RuntimeError("TreeCheckpointCallback.after_round before on_train_begin")
        model = self._engine.model
        meta = {**self.extra, "threshold": result.evaluation.threshold, "round": result.round_num,
                "metrics": jsonable(result.overall), "trees": tree_count(model),
                "model_bytes": len(model)}
        write_round(self.run_dir, result.round_num, model, jsonable(meta))
        write_resume_state(self.run_dir, self._engine.snapshot())


class TreeMetricsFileCallback(MetricsFileCallback):
    """``metrics.jsonl`` as for the networks, plus one ``split: "model"`` row a round with the
    global booster's tree count and JSON size (bagging grows by sites x local rounds trees)."""

    def on_train_begin(self, engine: EngineView) -> None:
        self._engine = engine
        super().on_train_begin(engine)

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        model: bytes = self._engine.model  # type: ignore[assignment]
        self.rows.append({"round": result.round_num, "mode": "federated", "site": "overall",
                          "split": "model", "trees": tree_count(model),
                          "model_bytes": len(model)})
        super().after_round(result, notes)


def compose_trees(
    config: RunConfig,
    data: FederatedData,
    run_dir: Path | None,
    callbacks: list[Callback],
    progress: Callback | None,
    snapshot: dict[str, Any] | None,
) -> TreeSetup:
    """Settings -> callbacks (checkpoints last) -> the booster to start from."""
    hparams = tree_hparams(config.hparams, rul=config.data.task == "rul")
    composed = list(callbacks)
    if config.mlflow is not None:
        composed.append(MlflowCallback(tracking_store(config.mlflow), run_dir=run_dir))
    extras: dict[str, Any] = {}
    if run_dir is not None:
        extras["run_folder"] = RunFolderCallback(run_dir, config, data)
        composed += [TreeMetricsFileCallback(run_dir), extras["run_folder"]]
    if progress is not None:
        composed.append(progress)
    model = None
    if run_dir is not None:
        extra = {"preprocessing": data.preprocessing.to_dict(), "model_type": "xgboost",
                 "hparams": hparams, "strategy": config.strategy,
                 "tree_features": tree_feature_names(data.feature_names, data.sequence_length)}
        composed.append(TreeCheckpointCallback(run_dir, extra))
        if snapshot is not None:
            saved, model, _ = read_round(run_dir, int(snapshot["completed_round"]))
            if saved != int(snapshot["completed_round"]):  # pragma: no cover - read_round checks
                raise CheckpointError(run_dir, "the resume state names a round not saved")
    return TreeSetup(config, data, hparams, composed, run_dir, snapshot, model, extras)


def run_trees(setup: TreeSetup) -> RunResult:
    """The engine function of a tree run: in this process, or on Flower (``engine='flower'``:
    its simulation engine, or a deployment's SuperNodes inside ``flower up``'s ServerApp)."""
    if setup.config.engine == "flower":
        try:
            from networkfed.flower.trees import run_trees_on_flower
        except ImportError as error:
            raise ConfigError("engine", "flower", "'inprocess', or install Flower: pip install "
                              f"'networkfed[flower]' ({error})") from None
        return run_trees_on_flower(setup)
    engine = TreeEngine(setup.config, setup.data, setup.hparams, setup.model, setup.callbacks)
    if setup.snapshot is not None:
        engine.restore(setup.snapshot)
    return engine.run()
