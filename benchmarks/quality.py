"""Failure-prediction quality on real data (issue #7); one command, results to JSON + Markdown.

    .venv/bin/python benchmarks/quality.py [--quick] [--data-dir DIR] [--workers 2]
                                           [--only ai4i2020|cmapss]

Every neural result comes from :func:`networkfed.api.run_federated` (federated runs with
``baselines=True`` also train the centralized and local-only models on the same rows); the
classical reference is a scikit-learn random forest on the same features, splits and
threshold rule. The protocols are in ``quality_protocols.py``; what is measured:

- failure-class F1 at the alarm threshold chosen on validation data (never on test data),
  precision, recall, PR-AUC, ROC-AUC; accuracy only beside the majority-class accuracy of
  the same test labels;
- the final round's global model (no model selection on test data);
- mean and sample SD over seeds.

Writes ``benchmarks/results/quality.json`` (``records``: one per dataset / partition /
model / mode / strategy / settings; ``targets``; ``site_comparison``) and
``benchmarks/results/quality.md`` (the table of docs/benchmarks/quality.md). ``--quick`` is a
smoke run (one seed, two short rounds) written to ``quality_quick.*`` so it never overwrites a
measurement.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import RandomForestClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))

from networkfed.api import run_federated
from networkfed.core.errors import NetworkFedError
from networkfed.data import DataConfig, load_federated_data
from networkfed.data.types import FederatedData, SplitTensors
from networkfed.federated.evaluation import Evaluation, SplitPredictions, evaluate_predictions
from networkfed.federated.execution import pooled_split
from quality_protocols import (
    BEST_OTHER_STRATEGY,
    CMAPSS_SEQUENCE_LENGTH,
    CMAPSS_TRAIN_STRIDE,
    DEFAULT_SEEDS,
    DEFAULTS,
    FD001_SEQUENCE_LENGTH,
    FD001_TRAIN_STRIDE,
    TUNED,
    Experiment,
    plan,
)
from quality_report import aggregate, markdown_table, site_comparison, target_checks

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
logger = logging.getLogger("quality")

FOREST_TREES = 200


# --- data ------------------------------------------------------------------------------------
def thin_training(data: FederatedData, stride: int) -> FederatedData:
    """Keep every ``stride``-th training window of each site; validation and test untouched."""
    if stride == 1:
        return data

    def every(split: SplitTensors) -> SplitTensors:
        return SplitTensors(split.x[::stride].clone(), split.y[::stride].clone(),
                            split.machine_ids[::stride])

    sites = {sid: replace(site, train=every(site.train)) for sid, site in data.sites.items()}
    return replace(data, sites=sites)


@lru_cache(maxsize=4)
def _load(config_json: str, seed: int, stride: int) -> FederatedData:
    config = DataConfig.model_validate_json(config_json)
    return thin_training(load_federated_data(config, seed), stride)


def majority_accuracy(data: FederatedData) -> float:
    """Accuracy of always predicting the majority class of the pooled test labels."""
    y = torch.cat([site.test.y for site in data.sites.values()]).numpy()
    rate = float(y.mean()) if y.size else math.nan
    return max(rate, 1.0 - rate)


# --- classical reference ---------------------------------------------------------------------
def window_features(x: torch.Tensor) -> np.ndarray:
    """A window as tabular features: last step, window mean and least-squares slope.

    For ``sequence_length == 1`` (AI4I rows) that is exactly the row's features.
    """
    values = x.numpy().astype(np.float64)
    last = values[:, -1, :]
    if values.shape[1] == 1:
        return last
    steps = np.arange(values.shape[1], dtype=np.float64)
    centred = steps - steps.mean()
    slope = np.einsum("t,ntf->nf", centred, values) / float(centred @ centred)
    return np.hstack([last, values.mean(axis=1), slope])


def classical_reference(data: FederatedData, seed: int, trees: int = FOREST_TREES) -> Evaluation:
    """A random forest on the pooled training windows; threshold from pooled validation."""
    train = pooled_split([site.train for site in data.sites.values()])
    forest = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)
    forest.fit(window_features(train.x), train.y.numpy())

    def predict(split: SplitTensors) -> SplitPredictions:
        probability = forest.predict_proba(window_features(split.x))[:, 1]
        return SplitPredictions(split.y.numpy().copy(), probability)

    val = {sid: predict(site.val) for sid, site in data.sites.items()}
    test = {sid: predict(site.test) for sid, site in data.sites.items()}
    return evaluate_predictions(val, test)


# --- one experiment ----------------------------------------------------------------------------
def _measured(evaluation: Evaluation) -> dict[str, Any]:
    return {"overall": dict(evaluation.overall),
            "per_site": {s: dict(m) for s, m in evaluation.per_site.items()}}


def run_experiment(experiment: Experiment, data: FederatedData | None = None) -> dict[str, Any]:
    """Run one experiment in this process (one torch thread); return its seed result.

    ``data`` (already loaded and thinned) is for tests; by default it is loaded from the
    experiment's data configuration and seed.
    """
    torch.set_num_threads(1)
    started = time.perf_counter()
    if data is None:
        data = _load(experiment.run.data.model_dump_json(), experiment.seed,
                     experiment.train_stride)
    result = run_federated(experiment.run, data)
    own_mode = experiment.extra.get("mode", "federated")
    modes = {own_mode: {"overall": dict(result.final),
                        "per_site": {s: dict(m) for s, m in result.per_site.items()}}}
    if result.baselines.centralized is not None:
        modes["centralized"] = _measured(result.baselines.centralized)
    if result.baselines.local is not None:
        modes["local"] = _measured(result.baselines.local)
    if experiment.classical:
        trees = int(experiment.extra.get("forest_trees", FOREST_TREES))
        modes["classical"] = _measured(classical_reference(data, experiment.seed, trees))
    return {
        "dataset": experiment.dataset, "partition": experiment.partition,
        "model": experiment.model, "strategy": experiment.strategy,
        "settings": experiment.settings, "seed": experiment.seed, "modes": modes,
        "majority_accuracy": majority_accuracy(data),
        "seconds": time.perf_counter() - started,
        "setup": _setup(experiment, data),
    }


def _setup(experiment: Experiment, data: FederatedData) -> dict[str, Any]:
    """How the numbers were made: enough to rerun one of them."""
    run = experiment.run
    return {
        "rounds": run.rounds, "local_epochs": run.local_epochs, "hparams": dict(run.hparams),
        "class_weighting": run.class_weighting, "val_truncations": run.data.val_truncations,
        "strategy_options": dict(run.strategy_options), "train_stride": experiment.train_stride,
        "sequence_length": data.sequence_length, "features": data.feature_names,
        "sites": {sid: {"train": len(s.train), "val": len(s.val), "test": len(s.test),
                        "test_failures": s.test.positives} for sid, s in data.sites.items()},
    }


def _rename_classical(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The classical mode's model is the forest, not the neural model it ran beside."""
    modes = dict(result["modes"])
    classical = modes.pop("classical", None)
    outputs = [{**result, "modes": modes}]
    if classical is not None:
        outputs.append({**result, "model": "random_forest", "strategy": "-",
                        "modes": {"classical": classical}})
    return outputs


# --- orchestration -----------------------------------------------------------------------------
def run_guarded(experiment: Experiment) -> dict[str, Any]:
    """:func:`run_experiment`, with a failure (a diverged model) reported, not raised.

    One failing configuration must not cost the other measurements; the failure is listed
    in ``quality.json`` under ``failures``.
    """
    try:
        return run_experiment(experiment)
    except NetworkFedError as error:
        return {"dataset": experiment.dataset, "partition": experiment.partition,
                "model": experiment.model, "strategy": experiment.strategy,
                "settings": experiment.settings, "seed": experiment.seed,
                "error": f"{type(error).__name__}: {error}", "modes": {}, "seconds": 0.0}


def run_all(experiments: list[Experiment], workers: int) -> list[dict[str, Any]]:
    """Run experiments largest first on ``workers`` processes; log each as it finishes."""
    outcomes: list[dict[str, Any]] = []
    if workers <= 1:
        for index, experiment in enumerate(experiments, 1):
            outcomes.append(_logged(run_guarded(experiment), index, experiments))
    else:
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(run_guarded, e) for e in experiments]
            for index, future in enumerate(as_completed(futures), 1):
                outcomes.append(_logged(future.result(), index, experiments))
    return outcomes


def _logged(result: dict[str, Any], index: int, experiments: list[Experiment]) -> dict[str, Any]:
    summary = result.get("error") or ", ".join(
        f"{mode} F1 {m['overall']['f1']:.3f}" for mode, m in result["modes"].items())
    logger.info("[%d/%d] %s %s %s %s seed %d (%.0f s): %s", index, len(experiments),
                result["dataset"], result["partition"], result["model"], result["strategy"],
                result["seed"], result["seconds"], summary)
    return result


def _jsonable(value: Any) -> Any:
    """NaN/inf become null (JSON has neither); numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, path)


def report(results: list[dict[str, Any]], args: argparse.Namespace, seconds: float
           ) -> dict[str, Any]:
    """The quality.json document."""
    failures = [r for r in results if "error" in r]
    results = [part for r in results if "error" not in r for part in _rename_classical(r)]
    records = aggregate(results)
    sites = site_comparison(results)
    return _jsonable({
        "benchmark": "quality", "quick": args.quick,
        "command": "benchmarks/quality.py" + (" --quick" if args.quick else ""),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_seconds": round(seconds, 1), "workers": args.workers,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "cpus": os.cpu_count()},
        "settings": {"tuned": TUNED, "defaults": DEFAULTS, "default_seeds": DEFAULT_SEEDS,
                     "best_other_strategy": BEST_OTHER_STRATEGY,
                     "cmapss_sequence_length": CMAPSS_SEQUENCE_LENGTH,
                     "cmapss_train_stride": CMAPSS_TRAIN_STRIDE,
                     "fd001_sequence_length": FD001_SEQUENCE_LENGTH,
                     "fd001_train_stride": FD001_TRAIN_STRIDE,
                     "random_forest_trees": FOREST_TREES},
        "records": records, "targets": target_checks(records, sites),
        "site_comparison": sites,
        "failures": failures,
    })


def _data_dir(given: str | None) -> Path:
    candidate = Path(given or os.environ.get("NETWORKFED_DATA_DIR")
                     or ROOT.parent / "shared" / "data")
    if not (candidate / "ai4i2020").is_dir() or not (candidate / "cmapss").is_dir():
        raise SystemExit(f"ai4i2020/ and cmapss/ not found under {candidate} (pass --data-dir)")
    return candidate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 2 rounds")
    parser.add_argument("--data-dir", help="folder holding ai4i2020/ and cmapss/")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--only", choices=("ai4i2020", "cmapss"), help="one dataset only")
    parser.add_argument("--output", type=Path, help="result folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("networkfed").setLevel(logging.ERROR)
    started = time.perf_counter()
    experiments = plan(_data_dir(args.data_dir), quick=args.quick, only=args.only)
    logger.info("%d experiments on %d worker(s)", len(experiments), args.workers)
    results = run_all(experiments, args.workers)
    document = report(results, args, time.perf_counter() - started)
    folder = args.output or RESULTS
    name = "quality_quick" if args.quick else "quality"
    write_atomic(folder / f"{name}.json", json.dumps(document, indent=2) + "\n")
    write_atomic(folder / f"{name}.md", markdown_table(document["records"]))
    for check in document["targets"]:
        logger.info("%s %s (%s)", "MET   " if check["met"] else "MISSED", check["target"],
                    check.get("model", "all models"))
    logger.info("wrote %s (%.0f s)", folder / f"{name}.json", document["elapsed_seconds"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
