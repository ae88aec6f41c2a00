"""How fast federated XGBoost trains, and how large its model grows.

    .venv/bin/python benchmarks/xgb_speed.py [--data-path PATH/ai4i2020.csv] [--repeats 3]

(a) ``federated``: the default AI4I federated xgboost run (product-type sites, xgb-bagging,
    10 rounds x 5 local boosting rounds, evaluation of the global booster on every site's
    validation and test rows every round) through ``networkfed.api.run_federated`` without a
    run folder, timed after the data are loaded;
(b) ``centralized``: ``xgboost.train`` on the pooled training rows with the same parameters,
    as many boosting rounds as the federation's sites x rounds x local rounds trees, one
    thread (as each site), with no per-round evaluation — the floor a federation cannot beat;
(c) ``flower_simulation``: the same run on Flower's simulation engine (Ray, one virtual
    SuperNode per site; the booster travels as JSON bytes in an ArrayRecord), timed once
    including Ray's start-up, with its test metrics (they must equal (a)'s);
(d) ``size``: a 10-site (IID) x 50-round AI4I bagging run: trees and JSON bytes of the final
    booster (the issue's budget: under 10 MB).

The best of ``--repeats`` wall times is kept (other load on the machine only adds time).
Writes ``benchmarks/results/xgb_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "xgb_speed.json"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"
SIZE_BUDGET_BYTES = 10 * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-path", type=Path, default=Path(
        os.environ.get("NETWORKFED_DATA_DIR", DEFAULT_DATA.parents[1])) / "ai4i2020" /
        "ai4i2020.csv")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from networkfed.api import run_federated
    from networkfed.data import load_federated_data
    from networkfed.data.config import DataConfig
    from networkfed.federated.config import RunConfig
    from networkfed.trees.booster import xgb
    from networkfed.trees.engine import site_rows
    from networkfed.trees.params import booster_params, scale_pos_weight, tree_hparams

    config = RunConfig(model="xgboost", seed=0,
                       data=DataConfig(dataset="ai4i2020", data_path=args.data_path))
    data = load_federated_data(config.data, config.seed)
    federated, result = _best(lambda: run_federated(config, data), args.repeats)

    rows = site_rows(data)
    x = np.concatenate([r["train"][0] for r in rows.values()])
    y = np.concatenate([r["train"][1] for r in rows.values()])
    params = booster_params(tree_hparams({}), seed=0, pos_weight=scale_pos_weight(
        [y], config.class_weighting))
    trees = len(data.sites) * config.rounds * config.local_epochs
    lib = xgb()
    centralized, _ = _best(lambda: lib.train(params, lib.DMatrix(x, label=y, nthread=1),
                                             num_boost_round=trees), args.repeats)

    flower_config = config.model_copy(update={"engine": "flower"})
    flower_seconds, flower_result = _best(lambda: run_federated(flower_config, data), 1)

    size_config = RunConfig(model="xgboost", seed=0, rounds=50, data=DataConfig(
        dataset="ai4i2020", data_path=args.data_path, partition="iid", num_sites=10))
    size_data = load_federated_data(size_config.data, size_config.seed)
    size_seconds, size_result, size_rounds = _model_sizes(size_config, size_data)

    report: dict[str, Any] = {
        "command": " ".join(["python benchmarks/xgb_speed.py", *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "xgboost": lib.__version__},
        "federated": {"seconds": federated, "rounds": config.rounds,
                      "local_rounds": config.local_epochs, "sites": len(data.sites),
                      "test_f1": result.last.evaluation.overall["f1"],
                      "test_pr_auc": result.last.evaluation.overall["pr_auc"]},
        "centralized_xgboost_train": {"seconds": centralized, "boosting_rounds": trees,
                                      "rows": len(y)},
        "federated_over_centralized": federated / centralized,
        "flower_simulation": {
            "seconds": flower_seconds,
            "over_federated_in_process": flower_seconds / federated,
            "test_f1": flower_result.last.evaluation.overall["f1"],
            "same_test_metrics": flower_result.last.evaluation.overall
            == result.last.evaluation.overall,
        },
        "size_10_sites_50_rounds": {
            "seconds": size_seconds, **size_rounds[-1],
            "under_10_mb": size_rounds[-1]["model_bytes"] < SIZE_BUDGET_BYTES,
            "every_10_rounds": size_rounds[::10],
            "test_f1": size_result.last.evaluation.overall["f1"],
        },
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


def _best(run: Any, repeats: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - started)
    return best, value


def _model_sizes(config: Any, data: Any) -> tuple[float, Any, list[dict[str, int]]]:
    """(seconds with the run folder, result, trees and bytes of the global booster after every
    round: the run folder's ``split: model`` rows)."""
    import tempfile

    from networkfed.api import run_federated

    with tempfile.TemporaryDirectory() as folder:
        seconds, result = _best(lambda: run_federated(config, data,
                                                      run_dir=Path(folder) / "run"), 1)
        lines = (Path(folder) / "run" / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    sizes = [{"round": r["round"], "trees": r["trees"], "model_bytes": r["model_bytes"]}
             for r in rows if r["split"] == "model"]
    return seconds, result, sizes


if __name__ == "__main__":
    main()
