"""Where federated XGBoost loses to centralized on AI4I, on validation data only.

    .venv/bin/python benchmarks/xgb_levers.py [--workers 2] [--data-dir DIR] [--stage NAME ...]

Each *variant* changes one lever of the quality benchmark's xgboost base (product-type sites
and Dirichlet(0.5) over five sites; 10 rounds x 5 local boosting rounds, depth 6, eta 0.1,
256 histogram bins, plain class weighting, xgb-bagging): the bagging recipe (learning-rate
scaling by the number of sites, local boosting rounds per round), the tree settings, the
class weighting, cyclic instead of bagging, and the histogram bins (``bins``; ``fine-bins*``
repeat the other levers at 4096 bins, the package default since this study). Every variant
trains on tuning seeds 0-2 with ``baselines=True`` (the centralized XGBoost of the same
settings comes with it) and keeps the *validation* metrics only (test metrics are never
read): what the levers teach is then put into ``quality_protocols._xgboost_settings`` and
chosen by ``quality_search.py``'s rule.

The learning-rate scaling is a lever the package fixes (1 / sites, Flower's example); the
other two rules are measured by overriding :meth:`TreeEngine._params` here, nowhere else.

Writes ``benchmarks/results/xgb_levers.json`` and ``xgb_levers.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from networkfed.monitoring.run_writer import jsonable
from networkfed.trees.engine import TreeEngine
from networkfed.trees.params import booster_params, tree_hparams
from provenance import provenance
from quality_protocols import SCENARIOS, TUNING_SEEDS, XGB_BAGGING, XGB_CYCLIC, run_config
from quality_runs import data_dir, load, write_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCENARIO_NAMES = ("ai4i-product_type-xgboost", "ai4i-dirichlet-xgboost")
BASE: dict[str, Any] = {"rounds": 10, "local_epochs": 5, "class_weighting": "none",
                        "inputs": "default",
                        "hparams": {"max_depth": 6, "eta": 0.1, "max_bin": 256}}
"""The quality benchmark's xgboost base before this study (XGBoost's own 256 bins, written
out so the study means the same after the package default changed to 4096)."""
logger = logging.getLogger("xgb_levers")


def variant(name: str, lever: str, *, eta_rule: str = "sites", strategy: str = "xgb-bagging",
            **changes: Any) -> dict[str, Any]:
    """The base with ``changes`` (``rounds``, ``local_epochs``, ``class_weighting`` or
    XGBoost parameters) and an ``eta_rule`` (``sites``: eta / sites, the package's;
    ``none``: eta unscaled; ``share``: eta x the site's share of training rows)."""
    settings = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        if key in ("rounds", "local_epochs", "class_weighting"):
            settings[key] = value
        else:
            settings["hparams"][key] = value
    return {"name": name, "lever": lever, "eta_rule": eta_rule, "strategy": strategy,
            "settings": settings}


def stages() -> dict[str, list[dict[str, Any]]]:
    """The variants, grouped by lever (the first of ``recipe`` is the base)."""
    return {
        "recipe": [
            variant("base", "recipe"),
            variant("eta unscaled", "recipe", eta_rule="none"),
            variant("eta x row share", "recipe", eta_rule="share"),
            variant("1 local round x 50", "recipe", rounds=50, local_epochs=1),
            variant("2 local rounds x 25", "recipe", rounds=25, local_epochs=2),
            variant("10 local rounds x 5", "recipe", rounds=5, local_epochs=10),
            variant("cyclic", "recipe", strategy="xgb-cyclic"),
        ],
        "bins": [
            variant("max_bin 64", "bins", max_bin=64),
            variant("max_bin 1024", "bins", max_bin=1024),
            variant("max_bin 4096", "bins", max_bin=4096),
            variant("max_bin 1024, 1 local round x 50", "bins", max_bin=1024, rounds=50,
                    local_epochs=1),
            variant("max_bin 1024, depth 8", "bins", max_bin=1024, max_depth=8),
            variant("max_bin 1024, 20 rounds", "bins", max_bin=1024, rounds=20),
            variant("max_bin 1024, eta 0.2", "bins", max_bin=1024, eta=0.2),
            variant("max_bin 1024, cyclic", "bins", max_bin=1024, strategy="xgb-cyclic"),
        ],
        "fine-bins": [
            variant("max_bin 16384", "fine-bins", max_bin=16384),
            variant("max_bin 4096, eta unscaled", "fine-bins", max_bin=4096, eta_rule="none"),
            variant("max_bin 4096, eta x row share", "fine-bins", max_bin=4096,
                    eta_rule="share"),
            variant("max_bin 4096, cyclic", "fine-bins", max_bin=4096, strategy="xgb-cyclic"),
            variant("max_bin 4096, 1 local round x 50", "fine-bins", max_bin=4096, rounds=50,
                    local_epochs=1),
            variant("max_bin 4096, 15 rounds", "fine-bins", max_bin=4096, rounds=15),
            variant("max_bin 4096, depth 4", "fine-bins", max_bin=4096, max_depth=4),
            variant("max_bin 4096, min_child_weight 0.5", "fine-bins", max_bin=4096,
                    min_child_weight=0.5),
            variant("max_bin 4096, lambda 0.1", "fine-bins", max_bin=4096, reg_lambda=0.1),
            variant("max_bin 4096, colsample 0.8", "fine-bins", max_bin=4096,
                    colsample_bytree=0.8),
            variant("max_bin 4096, sqrt weights", "fine-bins", max_bin=4096,
                    class_weighting="sqrt"),
        ],
        "fine-bins-cyclic": [
            variant("max_bin 4096, cyclic, 1 local round x 50", "fine-bins-cyclic",
                    max_bin=4096, strategy="xgb-cyclic", rounds=50, local_epochs=1),
            variant("max_bin 4096, cyclic, lambda 0.1", "fine-bins-cyclic", max_bin=4096,
                    strategy="xgb-cyclic", reg_lambda=0.1),
            variant("max_bin 4096, cyclic, 20 rounds", "fine-bins-cyclic", max_bin=4096,
                    strategy="xgb-cyclic", rounds=20),
            variant("max_bin 4096, 1 local round x 50, lambda 0.1", "fine-bins-cyclic",
                    max_bin=4096, rounds=50, local_epochs=1, reg_lambda=0.1),
        ],
        "weighting": [
            variant("sqrt weights", "weighting", class_weighting="sqrt"),
            variant("balanced weights", "weighting", class_weighting="balanced"),
        ],
        "trees": [
            variant("depth 3", "trees", max_depth=3),
            variant("depth 4", "trees", max_depth=4),
            variant("depth 8", "trees", max_depth=8),
            variant("eta 0.05", "trees", eta=0.05),
            variant("eta 0.2", "trees", eta=0.2),
            variant("eta 0.3", "trees", eta=0.3),
            variant("20 rounds", "trees", rounds=20),
            variant("40 rounds", "trees", rounds=40),
            variant("min_child_weight 0.5", "trees", min_child_weight=0.5),
            variant("min_child_weight 3", "trees", min_child_weight=3.0),
            variant("subsample 0.8", "trees", subsample=0.8),
            variant("colsample 0.8", "trees", colsample_bytree=0.8),
            variant("colsample 0.6", "trees", colsample_bytree=0.6),
            variant("lambda 0.1", "trees", reg_lambda=0.1),
            variant("lambda 5", "trees", reg_lambda=5.0),
        ],
    }


class LeverEngine(TreeEngine):
    """:class:`TreeEngine` with another learning-rate rule for bagging (``eta_rule``)."""

    eta_rule = "sites"

    def _params(self, round_num: int, site_index: int) -> dict[str, Any]:
        if self.eta_rule == "sites" or self.config.strategy != "xgb-bagging":
            return super()._params(round_num, site_index)
        site = self.data.site_ids[site_index]
        rows = {s: len(r["train"][1]) for s, r in self.rows.items()}
        scale = 1.0 if self.eta_rule == "none" else rows[site] / sum(rows.values())
        seed = self.config.seed * 1_000_003 + round_num * 1009 + site_index
        return booster_params(self.hparams, seed=seed, pos_weight=self.pos_weight,
                              eta_scale=scale)


def run_one(job: tuple[str, dict[str, Any], int, str]) -> dict[str, Any]:
    """One variant on one scenario and seed: validation metrics of each mode."""
    scenario_name, spec, seed, root = job
    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    strategy = XGB_CYCLIC if spec["strategy"] == "xgb-cyclic" else XGB_BAGGING
    config = run_config(scenario, Path(root), "xgboost", seed, spec["settings"], strategy,
                        baselines=True)
    data = load(config.data.model_dump_json(), seed, scenario.train_stride)
    started = time.perf_counter()
    engine = LeverEngine(config, data, tree_hparams(config.hparams), None)
    engine.eta_rule = spec["eta_rule"]
    result = engine.run()
    keep = ("f1", "pr_auc", "roc_auc", "precision", "recall")
    found = {"federated": result.last.evaluation, "centralized": result.baselines.centralized}
    return {"scenario": scenario_name, "variant": spec["name"], "seed": seed,
            "seconds": time.perf_counter() - started,
            **{mode: {k: float(ev.validation[k]) for k in keep} for mode, ev in found.items()
               if ev is not None}}


def summary(records: list[dict[str, Any]], specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean validation metrics over the tuning seeds per (scenario, variant)."""
    rows = []
    for scenario in SCENARIO_NAMES:
        for spec in specs:
            mine = [r for r in records if (r["scenario"], r["variant"]) == (scenario, spec["name"])]
            if len(mine) != len(TUNING_SEEDS):
                continue
            row: dict[str, Any] = {"scenario": scenario, "variant": spec["name"],
                                   "lever": spec["lever"]}
            for mode in ("federated", "centralized"):
                for metric in ("f1", "pr_auc"):
                    row[f"{mode}_{metric}"] = float(np.mean([r[mode][metric] for r in mine]))
                row[f"{mode}_f1_per_seed"] = [round(r[mode]["f1"], 3) for r in mine]
            rows.append(row)
    return rows


def markdown(document: dict[str, Any]) -> str:
    lines = ["# XGBoost levers on AI4I (validation, tuning seeds 0-2)", "",
             f"*`benchmarks/results/xgb_levers.json`, written {document['created_at']} by "
             f"`benchmarks/xgb_levers.py` in {document['elapsed_seconds']:.0f} s; commit "
             f"{str(document['provenance']['git_commit'])[:12]}.*", "",
             "Base: " + json.dumps(BASE) + ", xgb-bagging, eta / sites. Mean validation F1 and "
             "PR-AUC over the tuning seeds; Δ: federated F1 minus the base's.", ""]
    for scenario in SCENARIO_NAMES:
        rows = [r for r in document["summary"] if r["scenario"] == scenario]
        if not rows:
            continue
        base = next((r for r in rows if r["variant"] == "base"), rows[0])
        lines += [f"## {scenario}", "",
                  "| lever | variant | fed F1 | Δ F1 | fed PR-AUC | central F1 | central PR-AUC "
                  "| fed F1 per seed |", "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(
                f"| {r['lever']} | {r['variant']} | {r['federated_f1']:.3f} | "
                f"{r['federated_f1'] - base['federated_f1']:+.3f} | {r['federated_pr_auc']:.3f} "
                f"| {r['centralized_f1']:.3f} | {r['centralized_pr_auc']:.3f} | "
                f"{' / '.join(f'{v:.3f}' for v in r['federated_f1_per_seed'])} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding ai4i2020/ and cmapss/")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--stage", nargs="+", choices=sorted(stages()), help="default: all")
    parser.add_argument("--output", type=Path, default=RESULTS, help="result folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("networkfed").setLevel(logging.ERROR)
    started = time.perf_counter()
    source = provenance(ROOT)
    root = str(data_dir(args.data_dir, ROOT))
    specs = [s for name, group in stages().items() if not args.stage or name in args.stage
             for s in group]
    jobs = [(scenario, spec, seed, root) for scenario in SCENARIO_NAMES for spec in specs
            for seed in TUNING_SEEDS]
    logger.info("%d runs on %d worker(s)", len(jobs), args.workers)
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        records = list(pool.map(run_one, jobs))
    document = jsonable({
        "benchmark": "xgb_levers", "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_seconds": round(time.perf_counter() - started, 1), "base": BASE,
        "tuning_seeds": list(TUNING_SEEDS), "provenance": source,
        "variants": specs, "summary": summary(records, specs), "records": records,
    })
    args.output.mkdir(parents=True, exist_ok=True)
    write_atomic(args.output / "xgb_levers.json", json.dumps(document, indent=2) + "\n")
    write_atomic(args.output / "xgb_levers.md", markdown(document))
    logger.info("wrote %s (%.0f s)", args.output / "xgb_levers.json", document["elapsed_seconds"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
