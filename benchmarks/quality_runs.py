"""Running the quality benchmark's experiments: one run -> per-seed, per-mode records.

Every neural result comes from :func:`networkfed.api.run_federated` (``baselines=True``
also trains the centralized and local-only models on the same rows); the classical
references are a scikit-learn random forest and a histogram gradient-boosted tree on the
same splits, with the same alarm threshold rule (chosen on pooled validation predictions by
:func:`~networkfed.federated.evaluation.evaluate_predictions`); on a remaining-life target
(float labels) they are the same ensembles as regressors, scored like the networks. A record
keeps validation and test metrics apart, so the search can drop the test half and the
held-out run can report it.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from networkfed.api import run_federated
from networkfed.data import DataConfig, load_federated_data
from networkfed.data.types import FederatedData, SplitTensors
from networkfed.federated.evaluation import Evaluation, SplitPredictions, evaluate_predictions
from networkfed.federated.execution import pooled_split
from networkfed.monitoring.files import atomic_write_text
from provenance import package_files_loaded
from quality_protocols import Experiment

__all__ = ["command_line", "merged_parts", "run_all", "run_experiment", "write_atomic"]

logger = logging.getLogger("quality")
FOREST_TREES = 200
CLASSICAL = ("random_forest", "gradient_boosting")


def thin_training(data: FederatedData, stride: int) -> FederatedData:
    """Keep every ``stride``-th training window of each site; validation and test untouched
    (neighbouring C-MAPSS windows share all but one cycle)."""
    if stride == 1:
        return data

    def every(split: SplitTensors) -> SplitTensors:
        return SplitTensors(split.x[::stride].clone(), split.y[::stride].clone(),
                            split.machine_ids[::stride])

    sites = {sid: replace(site, train=every(site.train)) for sid, site in data.sites.items()}
    return replace(data, sites=sites)


@lru_cache(maxsize=4)
def load(config_json: str, seed: int, stride: int) -> FederatedData:
    config = DataConfig.model_validate_json(config_json)
    return thin_training(load_federated_data(config, seed), stride)


def is_regression(data: FederatedData) -> bool:
    """Float labels: the target is the remaining life (``task="rul"``)."""
    return any(site.train.y.is_floating_point() for site in data.sites.values())


def majority_accuracy(data: FederatedData) -> float:
    """Accuracy of always predicting the majority class of the pooled test labels."""
    y = torch.cat([site.test.y for site in data.sites.values()]).numpy()
    rate = float(y.mean()) if y.size else math.nan
    return max(rate, 1.0 - rate)


def mean_predictor_rmse(data: FederatedData) -> float:
    """Test RMSE of always predicting the pooled training mean remaining life: the floor a
    RUL model must clear to have learnt anything from the sensors."""
    train = torch.cat([site.train.y for site in data.sites.values()]).double()
    test = torch.cat([site.test.y for site in data.sites.values()]).double()
    if not test.numel():
        return math.nan
    return float(torch.sqrt(torch.mean((test - train.mean()) ** 2)))


def trivial_reference(data: FederatedData) -> dict[str, float]:
    """What a model that ignores the inputs scores: majority accuracy, or the mean's RMSE."""
    if is_regression(data):
        return {"mean_predictor_rmse": mean_predictor_rmse(data)}
    return {"majority_accuracy": majority_accuracy(data)}


def window_features(x: torch.Tensor) -> np.ndarray:
    """A window as tabular features: last step, window mean and least-squares slope
    (for ``sequence_length == 1``, AI4I rows, exactly the row's features)."""
    values = x.numpy().astype(np.float64)
    last = values[:, -1, :]
    if values.shape[1] == 1:
        return last
    steps = np.arange(values.shape[1], dtype=np.float64)
    centred = steps - steps.mean()
    slope = np.einsum("t,ntf->nf", centred, values) / float(centred @ centred)
    return np.hstack([last, values.mean(axis=1), slope])


def _ensemble(name: str, seed: int, regression: bool) -> Any:
    """The scikit-learn ensemble ``name``: a classifier, or a regressor of remaining life."""
    if name == "random_forest" and regression:  # a third of the inputs per split (Breiman's
        # regression default): 3x faster than all of them on C-MAPSS's 72 window summaries
        return RandomForestRegressor(n_estimators=FOREST_TREES, max_features=1 / 3,
                                     random_state=seed, n_jobs=1)
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=FOREST_TREES, random_state=seed, n_jobs=1)
    boosted = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
    return boosted(random_state=seed)


def classical_reference(data: FederatedData, seed: int, name: str) -> Evaluation:
    """A tree ensemble on the pooled training windows; threshold from pooled validation
    (classification) or predicted remaining life in cycles (regression)."""
    train = pooled_split([site.train for site in data.sites.values()])
    regression = is_regression(data)
    model = _ensemble(name, seed, regression)
    model.fit(window_features(train.x), train.y.numpy())

    def predict(split: SplitTensors) -> SplitPredictions:
        features = window_features(split.x)
        output = (model.predict(features) if regression
                  else model.predict_proba(features)[:, 1])
        return SplitPredictions(split.y.numpy().copy(), output)

    val = {sid: predict(site.val) for sid, site in data.sites.items()}
    test = {sid: predict(site.test) for sid, site in data.sites.items()}
    return evaluate_predictions(val, test)


def _mode_record(experiment: Experiment, mode: str, evaluation: Evaluation,
                 **extra: Any) -> dict[str, Any]:
    return {"scenario": experiment.scenario, "model": experiment.model, "mode": mode,
            "settings": experiment.settings,
            "strategy": experiment.strategy if mode == "federated" else "-",
            "seed": experiment.seed, "seed_set": experiment.seed_set,
            "validation": dict(evaluation.validation), "test": dict(evaluation.overall),
            "per_site_test": {s: dict(m) for s, m in evaluation.per_site.items()}, **extra}


def run_experiment(experiment: Experiment, data: FederatedData | None = None
                   ) -> list[dict[str, Any]]:
    """Run one experiment in this process (one torch thread): one record per kept mode."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    config = experiment.run.data if experiment.run is not None else experiment.data
    if data is None:
        data = load(config.model_dump_json(), experiment.seed, experiment.train_stride)
    if experiment.run is None:
        records = [_mode_record(replace(experiment, model=name), "classical",
                                classical_reference(data, experiment.seed, name))
                   for name in CLASSICAL]
    else:
        records = _neural(experiment, data)
    seconds = time.perf_counter() - started
    setup = _setup(experiment, data)
    imported = sorted(package_files_loaded())
    return [{**r, "seconds": seconds, **trivial_reference(data), "setup": setup,
             "package_files": imported} for r in records]


def _neural(experiment: Experiment, data: FederatedData) -> list[dict[str, Any]]:
    result = run_federated(experiment.run, data)
    own = "centralized" if "federated" not in experiment.modes and not experiment.run.baselines \
        else "federated"
    found: dict[str, Evaluation | None] = {"centralized": result.baselines.centralized,
                                           "local": result.baselines.local}
    found[own] = result.last.evaluation
    metric = "rmse" if is_regression(data) else "f1"
    best = {"best_round": result.best_round, "rounds_completed": result.rounds_completed,
            f"val_{metric}_by_round": [r["val"].get(metric) for r in result.history]}
    return [_mode_record(experiment, mode, evaluation, **(best if mode == own else {}))
            for mode, evaluation in found.items()
            if evaluation is not None and mode in experiment.modes]


def _setup(experiment: Experiment, data: FederatedData) -> dict[str, Any]:
    """How the numbers were made: enough to rerun one of them."""
    regression = is_regression(data)
    sites = {sid: {"train": len(s.train), "val": len(s.val), "test": len(s.test)}
             | ({} if regression else {"test_failures": s.test.positives})
             for sid, s in data.sites.items()}
    common = {"train_stride": experiment.train_stride, "sequence_length": data.sequence_length,
              "features": data.feature_names, "sites": sites}
    run = experiment.run
    if run is None:
        return {**common, "random_forest_trees": FOREST_TREES}
    return {**common, "rounds": run.rounds, "local_epochs": run.local_epochs,
            "hparams": dict(run.hparams), "class_weighting": run.class_weighting,
            "strategy": run.strategy, "strategy_options": dict(run.strategy_options),
            "fedbn": run.fedbn, "fedper": run.fedper}


def run_guarded(experiment: Experiment) -> list[dict[str, Any]] | dict[str, Any]:
    """:func:`run_experiment`, a failure (a diverged model, or any error) returned as an
    error record so one failing configuration does not cost the other measurements; the
    command lists it under ``failures`` and exits 1."""
    try:
        return run_experiment(experiment)
    except Exception as error:  # recorded in the result file and the log, never hidden
        logger.exception("%s %s %s %s seed %d failed", experiment.scenario, experiment.model,
                         experiment.settings, experiment.strategy, experiment.seed)
        return {"scenario": experiment.scenario, "model": experiment.model,
                "settings": experiment.settings, "strategy": experiment.strategy,
                "seed": experiment.seed, "error": f"{type(error).__name__}: {error}"}


def run_all(experiments: list[Experiment], workers: int, imported: set[str] | None = None
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run experiments largest first on ``workers`` processes: (records, failures).

    ``imported`` collects the package source files the runs imported (in whichever process
    they ran), for the result file's provenance.
    """
    ordered = sorted(experiments, key=lambda e: -e.cost)
    records: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    imported = imported if imported is not None else set()

    def collect(outcome: list[dict[str, Any]] | dict[str, Any], index: int) -> None:
        if isinstance(outcome, dict):
            failures.append(outcome)
            logger.info("[%d/%d] FAILED %s", index, len(ordered), outcome["error"])
            return
        for record in outcome:
            imported.update(record.pop("package_files", ()))
        records.extend(outcome)
        first = outcome[0] if outcome else {}
        strategy = next((r["strategy"] for r in outcome if r["mode"] == "federated"), "-")
        metric = "rmse" if "rmse" in first.get("validation", {}) else "f1"
        logger.info("[%d/%d] %s %s %s %s seed %s (%.0f s): %s", index, len(ordered),
                    first.get("scenario"), first.get("model"), first.get("settings"),
                    strategy, first.get("seed"), first.get("seconds", 0.0),
                    ", ".join(f"{r['mode']} val {metric} "
                              f"{r['validation'].get(metric, math.nan):.3f}" for r in outcome))

    if workers <= 1:
        for index, experiment in enumerate(ordered, 1):
            collect(run_guarded(experiment), index)
        return records, failures
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_guarded, e) for e in ordered]
        for index, future in enumerate(as_completed(futures), 1):
            collect(future.result(), index)
    return records, failures


def command_line(description: str, argv: list[str] | None,
                 add_own: Callable[[argparse.ArgumentParser], None]) -> argparse.Namespace:
    """Both stages' arguments (``--quick``, ``--data-dir``, ``--workers``, ``--output``) plus
    the stage's own (``add_own``), parsed; logging set up for a console run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 2 rounds")
    parser.add_argument("--data-dir", help="folder holding ai4i2020/ and cmapss/")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    add_own(parser)
    parser.add_argument("--output", type=Path, help="result folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("networkfed").setLevel(logging.ERROR)
    return args


def merged_parts(previous: dict[str, Any], document: dict[str, Any], names: set[str]
                 ) -> dict[str, Any]:
    """What any result file keeps when ``document`` (a run of the scenarios ``names``) is
    merged into ``previous``: the others' failures, the summed runs and time, and ``parts``,
    which run wrote what, at which commit and package source."""
    def part(doc: dict[str, Any]) -> dict[str, Any]:
        return {"created_at": doc["created_at"], "scenarios": sorted(doc["choices"]),
                "runs": doc["runs"], "elapsed_seconds": doc["elapsed_seconds"],
                "git_commit": doc["provenance"].get("git_commit"),
                "source_hash": doc["provenance"].get("source_hash")}

    return {"failures": [f for f in previous["failures"] if f["scenario"] not in names]
            + document["failures"],
            "runs": previous["runs"] + document["runs"],
            "elapsed_seconds": round(previous["elapsed_seconds"]
                                     + document["elapsed_seconds"], 1),
            "parts": [*previous.get("parts", [part(previous)]), part(document)]}


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: never a half-written result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def data_dir(given: str | None, root: Path) -> Path:
    """The folder holding ``ai4i2020/`` and ``cmapss/`` (argument, ``NETWORKFED_DATA_DIR``,
    or the shared data folder beside the checkout)."""
    candidate = Path(given or os.environ.get("NETWORKFED_DATA_DIR") or root.parent / "shared"
                     / "data")
    if not (candidate / "ai4i2020").is_dir() or not (candidate / "cmapss").is_dir():
        raise SystemExit(f"ai4i2020/ and cmapss/ not found under {candidate} (pass --data-dir)")
    return candidate
