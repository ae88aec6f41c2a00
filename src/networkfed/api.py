"""The public entry point: one call runs a whole federated experiment (journey J4).

:func:`run_federated` composes the layers — data, model, strategy, engine, the callbacks
that write the run folder — and is what ``networkfed simulate``, tuning, the Flower server
app and the benchmarks call. Engines are a small registry (:func:`register_engine`), so the
Flower engine plugs in beside the in-process one without touching this file.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from networkfed.core.errors import ConfigError
from networkfed.data import load_federated_data
from networkfed.data.types import FederatedData
from networkfed.federated.attacks import choose_attackers
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import RunConfig
from networkfed.federated.engine import InProcessEngine
from networkfed.federated.local_training import ModelSpec
from networkfed.federated.results import RunResult
from networkfed.federated.sampling import sample_sites
from networkfed.federated.strategies import Strategy, build_strategy
from networkfed.federated.workers import auto_workers, make_runner
from networkfed.models import ModelManager, ModelWrapper, split_overrides, training_config
from networkfed.models._registry import get_model_entry
from networkfed.monitoring.callbacks import (
    CheckpointCallback,
    MetricsFileCallback,
    MonitorCallback,
    RunFolderCallback,
)
from networkfed.monitoring.monitor import ModelPerformanceMonitor
from networkfed.monitoring.run_folder import (
    CHECKPOINTS_DIR,
    GLOBAL_MODEL_ID,
    MANIFEST_FILE,
    METRICS_FILE,
    read_manifest,
)
from networkfed.monitoring.run_writer import load_run_config, read_resume_state
from networkfed.monitoring.tracking import MlflowCallback, tracking_store
from networkfed.privacy.setup import privatize, refuse_dp
from networkfed.trees import is_tree_model

logger = logging.getLogger(__name__)

__all__ = ["RunSetup", "register_engine", "run_federated"]


@dataclass
class RunSetup:
    """Everything an engine needs, composed once by :func:`run_federated`.

    ``callbacks`` are in calling order (the checkpoint callback last); ``snapshot`` is the
    saved engine state when resuming (the global ``model`` then holds that round's weights).
    """

    config: RunConfig
    data: FederatedData
    spec: ModelSpec
    training: dict[str, Any]
    strategy: Strategy
    model: ModelWrapper
    callbacks: list[Callback]
    run_dir: Path | None = None
    snapshot: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


EngineFunction = Callable[[RunSetup], RunResult]
_ENGINES: dict[str, EngineFunction] = {}


def register_engine(name: str, run: EngineFunction) -> None:
    """Make ``RunConfig.engine == name`` run with ``run(setup)``."""
    _ENGINES[name] = run


def run_federated(
    config: RunConfig,
    data: FederatedData | None = None,
    *,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    progress: Callback | None = None,
    resume: bool = False,
) -> RunResult:
    """Run a federated experiment and return its result.

    Parameters
    ----------
    config
        The run's settings (``config.run_dir`` is used when ``run_dir`` is not given).
    data
        Already loaded sites; loaded from ``config.data`` when ``None``.
    run_dir
        Where to write the run folder; ``None`` (and no ``config.run_dir``) writes nothing.
    callbacks
        Extra callbacks (e.g. :class:`~networkfed.federated.callbacks.EarlyStopping`).
    progress
        A callback that displays progress (the CLI's); called after the others, before the
        checkpoint is saved.
    resume
        Continue the run in ``run_dir`` from its last saved round; it then ends with exactly
        the metrics an uninterrupted run has.

    Raises
    ------
    ConfigError, DataValidationError, TrainingError, CheckpointError
        Bad settings (exit code 2), bad data (3), training that cannot go on or a broken
        run folder (4).
    """
    folder = Path(run_dir) if run_dir is not None else config.run_dir
    run_engine = _engine(config.engine)
    if not resume:
        _check_new_folder(folder)
    data = data if data is not None else load_federated_data(config.data, config.seed)
    config = _with_resolved_data(config, data)
    snapshot = _resume_point(folder, config) if resume else None
    if resume and folder is not None:
        _check_fingerprint(folder, data)
    if is_tree_model(config.model):  # trees: their own composition and round loop
        from networkfed.trees.setup import compose_trees, run_trees

        refuse_dp(config, f"{config.model} is a tree ensemble: no update vector to clip, no "
                  "per-example gradients")
        _check_sites(config, data)
        setup: Any = compose_trees(config, data, folder, list(callbacks), progress, snapshot)
        run_engine = run_trees
    else:
        setup = _compose(config, data, folder, list(callbacks), progress, snapshot, resume)
    folder_writer = setup.extras.get("run_folder")
    try:
        result = run_engine(setup)
    except KeyboardInterrupt:
        if folder_writer is not None:
            folder_writer.mark("interrupted", "stopped by the user; continue with --resume")
        _run_end(setup, "interrupted")
        raise
    except Exception as error:
        if folder_writer is not None:
            folder_writer.mark("failed", str(error))
        _run_end(setup, "failed")
        raise
    if folder is not None:
        _write_report(folder)
    _run_end(setup, "complete")
    return dataclasses.replace(result, run_dir=folder)


def _run_end(setup: RunSetup, status: str) -> None:
    """Tell the callbacks the run is over, once its folder is complete."""
    for callback in setup.callbacks:
        callback.on_run_end(status, setup.run_dir)


def _engine(name: str) -> EngineFunction:
    if name == "flower" and name not in _ENGINES:
        _load_flower_engine()
    if name not in _ENGINES:
        raise ConfigError("engine", name, "one of " + ", ".join(map(repr, sorted(_ENGINES))))
    return _ENGINES[name]


def _load_flower_engine() -> None:
    """Register the Flower engine on first use (Flower is the optional ``[flower]`` extra)."""
    try:
        import networkfed.flower.engine  # noqa: F401  (registers "flower")
    except ImportError as error:
        raise ConfigError("engine", "flower", "'inprocess', or install Flower: pip install "
                          f"'networkfed[flower]' ({error})") from None


def _compose(
    config: RunConfig,
    data: FederatedData,
    run_dir: Path | None,
    callbacks: list[Callback],
    progress: Callback | None,
    snapshot: dict[str, Any] | None,
    resume: bool,
) -> RunSetup:
    """Data -> model -> strategy -> callbacks, checked against each other."""
    _check_sites(config, data)
    spec, training = model_settings(config, data)
    strategy = build_strategy(config.strategy, **config.strategy_options)
    _check_threat_model(config, data, strategy)
    strategy = privatize(config, data, strategy, spec, training)
    manager = ModelManager(run_dir / CHECKPOINTS_DIR) if run_dir is not None else None
    model = _global_model(config, spec, manager, snapshot, resume)
    composed = [*callbacks, MonitorCallback(ModelPerformanceMonitor(manager))]
    if config.mlflow is not None:
        composed.append(MlflowCallback(tracking_store(config.mlflow), run_dir=run_dir))
    extras: dict[str, Any] = {}
    if run_dir is not None and manager is not None:
        extras["run_folder"] = RunFolderCallback(run_dir, config, data)
        composed += [MetricsFileCallback(run_dir), extras["run_folder"]]
    if progress is not None:
        composed.append(progress)
    if run_dir is not None and manager is not None:
        extra = {"preprocessing": data.preprocessing.to_dict(), "model_type": spec.model_type,
                 "model_overrides": spec.overrides}
        composed.append(CheckpointCallback(manager, run_dir, extra))
    return RunSetup(config, data, spec, training, strategy, model, composed, run_dir,
                    snapshot, extras)


def model_settings(config: RunConfig, data: FederatedData) -> tuple[ModelSpec, dict[str, Any]]:
    """The model to build and its training settings, from the config's ``hparams``.

    The window length is the data's: a ``sequence_length`` in ``hparams`` must agree.
    """
    architecture, train_part = split_overrides(config.model, config.hparams)
    train_part.pop("sequence_length", None)
    given = architecture.get("sequence_length", data.sequence_length)
    if given != data.sequence_length:
        raise ConfigError("hparams.sequence_length", given,
                          f"the data's sequence_length ({data.sequence_length}); set it in [data]")
    accepted = get_model_entry(config.model).accepted_overrides()
    if accepted is None or "sequence_length" in accepted:
        architecture["sequence_length"] = data.sequence_length
    spec = ModelSpec(str(config.model), data.input_dim, data.num_classes, architecture)
    if data.num_classes == 1:  # RUL: one output learning the target / cap (regression.py)
        scale = float(data.preprocessing.source_options.get("rul_cap", config.data.rul_cap))
        spec = dataclasses.replace(spec, target_scale=scale, loss=config.rul_loss)
    return spec, training_config(config.model, **train_part)


def _check_sites(config: RunConfig, data: FederatedData) -> None:
    if config.min_fit_clients > len(data.sites):
        raise ConfigError("min_fit_clients", config.min_fit_clients,
                          f"at most the number of sites ({len(data.sites)})")
    if config.site_dropout_rate > 0 and config.min_fit_clients >= len(data.sites):
        logger.warning("site_dropout_rate=%s with min_fit_clients=%d of %d sites: any drop-out "
                       "stops the run; lower min_fit_clients to let rounds go on without a site",
                       config.site_dropout_rate, config.min_fit_clients, len(data.sites))


def _check_threat_model(config: RunConfig, data: FederatedData, strategy: Strategy) -> None:
    """Refuse a rule whose precondition the sites of a round cannot meet (Krum's n > 2f + 2,
    Bulyan's n >= 4f + 3) and an attack by all sites; warn when the rule assumes fewer
    hostile sites than the simulation has."""
    sampled = len(sample_sites(data.site_ids, config.fraction_fit, config.min_fit_clients,
                               config.seed, 1))
    problem = strategy.precondition(sampled)
    if problem is not None:
        raise ConfigError("strategy", config.strategy,
                          f"a rule whose precondition holds: {problem} (sample more sites or "
                          "lower num_malicious_clients)")
    if config.attack is None:
        return
    choose_attackers(data.site_ids, config.attackers, config.seed)  # at least one honest site
    assumed = strategy.get_options().get("num_malicious_clients")
    if assumed is not None and assumed < config.attackers:
        logger.warning("%s assumes num_malicious_clients=%d hostile sites but %d attack; set "
                       "--strategy-option num_malicious_clients=%d to match",
                       config.strategy, assumed, config.attackers, config.attackers)


def _global_model(
    config: RunConfig,
    spec: ModelSpec,
    manager: ModelManager | None,
    snapshot: Mapping[str, Any] | None,
    resume: bool,
) -> ModelWrapper:
    """The initial global model (seeded), or the last saved round's when resuming."""
    if manager is None:
        return spec.build(seed=config.seed)
    if snapshot is not None:
        manager.restore_model_state(GLOBAL_MODEL_ID, int(snapshot["completed_round"]))
        return manager.get_model(GLOBAL_MODEL_ID)
    if resume and GLOBAL_MODEL_ID in manager.list_models():  # nothing saved: start over
        manager.remove_model(GLOBAL_MODEL_ID)
    return manager.create_and_register_model(
        GLOBAL_MODEL_ID, spec.model_type, spec.input_dim, spec.num_classes,
        seed=config.seed, **spec.overrides,
    )


def _resume_point(run_dir: Path | None, config: RunConfig) -> dict[str, Any] | None:
    """The saved snapshot to continue from (``None``: nothing saved yet, start over)."""
    if run_dir is None:
        raise ConfigError("resume", True, "a run folder (--run-dir) to resume")
    saved = load_run_config(run_dir)
    ignored = {"run_dir", "workers", "mlflow"}
    changed = sorted(
        key for key in RunConfig.model_fields
        if key not in ignored and getattr(saved, key) != getattr(config, key)
    )
    if changed:
        raise ConfigError("resume", ", ".join(changed),
                          f"the settings the run in {run_dir} started with (config.toml)")
    return read_resume_state(run_dir)


def _with_resolved_data(config: RunConfig, data: FederatedData) -> RunConfig:
    """``config`` with what loading resolved: the split ``auto`` chose and the window the data
    uses (a stratified split reads a default window as single rows), so ``config.toml`` says
    what the run did and a resumed run asks for the same data again."""
    update: dict[str, Any] = {"sequence_length": data.sequence_length}
    resolved = data.preprocessing.source_options.get("split")
    if config.data.split == "auto" and resolved is not None:
        update["split"] = resolved
    return config.model_copy(update={"data": config.data.model_copy(update=update)})


def _check_new_folder(run_dir: Path | None) -> None:
    """A new run never overwrites another run's folder."""
    if run_dir is None:
        return
    if (run_dir / MANIFEST_FILE).exists() or (run_dir / METRICS_FILE).exists():
        raise ConfigError("run_dir", str(run_dir),
                          "a new or empty folder (it holds a run: add --resume to continue it)")


def _check_fingerprint(run_dir: Path, data: FederatedData) -> None:
    """A resumed run must see the data it started with, and must not be finished already."""
    manifest = read_manifest(run_dir) or {}
    expected = manifest.get("data_fingerprint")
    if expected is not None and expected != data.fingerprint:
        raise ConfigError("data", data.fingerprint,
                          f"the data the run started with (fingerprint {expected})")
    if manifest.get("status") == "complete":
        raise ConfigError("resume", str(run_dir), "an unfinished run (this one is complete)")


def _write_report(run_dir: Path) -> None:
    """The HTML report and plots, when the report module is installed."""
    try:
        from networkfed.monitoring.report import write_report
    except ImportError:  # pragma: no cover - the report is part of the package
        return
    write_report(run_dir)


def _run_inprocess(setup: RunSetup) -> RunResult:
    config, data = setup.config, setup.data
    sizes = [len(site.train) for site in data.sites.values()]
    workers = config.workers if config.workers is not None else auto_workers(
        sizes, config.local_epochs)
    runner = make_runner(setup.spec, setup.training, data.sites, workers)
    try:
        engine = InProcessEngine(config, data, setup.model, setup.spec, setup.training,
                                 setup.strategy, runner, setup.callbacks)
        if setup.snapshot is not None:
            engine.restore(setup.snapshot)
        return engine.run()
    finally:
        runner.close()


register_engine("inprocess", _run_inprocess)
