"""Turn per-seed results of the quality benchmark into records, target checks and a table.

A *seed result* is what one experiment measured (overall and per-site test metrics per
mode). Records average them over seeds (mean and sample standard deviation); accuracy is
always shown next to the majority-class accuracy of the same test labels.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from quality_protocols import PER_SITE_LAYERS

__all__ = ["aggregate", "markdown_table", "site_comparison", "target_checks"]

METRICS = ("f1", "precision", "recall", "pr_auc", "roc_auc", "accuracy", "balanced_accuracy",
           "threshold")
KEY_FIELDS = ("dataset", "partition", "model", "mode", "strategy", "settings")


def _mean_std(values: Iterable[float]) -> tuple[float, float]:
    """NaN-aware mean and sample SD (SD 0 for one value; NaN when nothing is defined)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
    return float(np.mean(finite)), std


def _mode_rows(result: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """One row per mode measured by one experiment (federated, centralized, local, ...)."""
    for mode, measured in result["modes"].items():
        strategy = result["strategy"] if mode == "federated" else "-"
        yield {**{k: result[k] for k in KEY_FIELDS if k not in ("mode", "strategy")},
               "mode": mode, "strategy": strategy, "seed": result["seed"],
               "majority_accuracy": result["majority_accuracy"], "seconds": result["seconds"],
               "overall": measured["overall"], "per_site": measured["per_site"],
               "setup": result["setup"]}


def aggregate(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Records keyed by :data:`KEY_FIELDS`, each averaged over its seeds."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        for row in _mode_rows(result):
            groups[tuple(row[k] for k in KEY_FIELDS)].append(row)
    return [_record(key, rows) for key, rows in sorted(groups.items())]


def _record(key: tuple, rows: list[dict[str, Any]]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: r["seed"])
    record: dict[str, Any] = dict(zip(KEY_FIELDS, key, strict=True))
    record["seeds"] = [r["seed"] for r in rows]
    for metric in METRICS:
        mean, std = _mean_std(r["overall"].get(metric) for r in rows)
        record[f"{metric}_mean"], record[f"{metric}_std"] = mean, std
    record["majority_accuracy"] = _mean_std(r["majority_accuracy"] for r in rows)[0]
    record["test_examples"] = int(rows[0]["overall"].get("num_examples", 0))
    record["test_failures"] = int(rows[0]["overall"].get("positives", 0))
    sites = sorted({site for r in rows for site in r["per_site"]})
    record["per_site_f1_mean"] = {
        site: _mean_std(r["per_site"].get(site, {}).get("f1") for r in rows)[0] for site in sites
    }
    record["seconds_mean"] = _mean_std(r["seconds"] for r in rows)[0]
    record["setup"] = rows[0]["setup"]
    return record


def site_comparison(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (run, site): federated vs local-only F1 on the site's own test split.

    Dirichlet sites differ from seed to seed, so the comparison is per seed and site rather
    than per site name; sites without a failure in their test split have no F1 and are
    listed as not comparable. A run without baselines (FedBN) is compared with the local-only
    models of the FedAvg run of the same dataset, sites, model and seed: local training does
    not depend on the federated strategy.
    """
    results = list(results)
    local_of = {_run_key(r): r["modes"]["local"] for r in results if "local" in r["modes"]}
    rows = []
    for result in results:
        modes = result["modes"]
        local_mode = modes.get("local") or local_of.get(_run_key(result))
        if local_mode is None or "federated" not in modes:
            continue
        for site, local in local_mode["per_site"].items():
            federated = modes["federated"]["per_site"][site]
            comparable = federated.get("positives", 0) > 0
            rows.append({
                "dataset": result["dataset"], "partition": result["partition"],
                "model": result["model"], "strategy": result["strategy"],
                "seed": result["seed"], "site": site,
                "test_failures": federated.get("positives"),
                "federated_f1": federated.get("f1"), "local_f1": local.get("f1"),
                "federated_pr_auc": federated.get("pr_auc"), "local_pr_auc": local.get("pr_auc"),
                "comparable": comparable,
                "federated_better_or_equal": bool(comparable and
                                                  federated["f1"] >= local["f1"]),
            })
    return rows


def _run_key(result: Mapping[str, Any]) -> tuple[Any, ...]:
    return (result["dataset"], result["partition"], result["model"], result["settings"],
            result["seed"])


def _find(records: list[dict[str, Any]], **fields: str) -> list[dict[str, Any]]:
    return [r for r in records if all(r[k] == v for k, v in fields.items())]


def _best_federated(records: list[dict[str, Any]], dataset: str, partition: str,
                    model: str | None = None) -> dict[str, Any] | None:
    """The federated record with the highest mean F1 (over models and strategies)."""
    fields = {"dataset": dataset, "partition": partition, "mode": "federated",
              "settings": "tuned"}
    if model is not None:
        fields["model"] = model
    candidates = _find(records, **fields)
    return max(candidates, key=lambda r: r["f1_mean"]) if candidates else None


def _gap_checks(records: list[dict[str, Any]], dataset: str, partition: str,
                limit: float) -> list[dict[str, Any]]:
    checks = []
    for central in _find(records, dataset=dataset, partition=partition, mode="centralized",
                         settings="tuned"):
        federated = _best_federated(records, dataset, partition, central["model"])
        if federated is None:
            continue
        gap = central["f1_mean"] - federated["f1_mean"]
        checks.append({
            "target": f"{dataset} {partition}: federated within {limit} F1 of centralized",
            "model": central["model"], "strategy": federated["strategy"],
            "federated_f1": federated["f1_mean"], "centralized_f1": central["f1_mean"],
            "gap": gap, "met": bool(gap <= limit),
        })
    return checks


def target_checks(records: list[dict[str, Any]],
                  sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets of issue #7, each with the measured values and whether it is met."""
    checks: list[dict[str, Any]] = []
    best = _best_federated(records, "ai4i2020", "product_type")
    if best is not None:
        checks.append({
            "target": "ai4i2020 product_type, best federated model: F1 >= 0.80, PR-AUC >= 0.85",
            "model": best["model"], "strategy": best["strategy"], "f1": best["f1_mean"],
            "pr_auc": best["pr_auc_mean"],
            "met": bool(best["f1_mean"] >= 0.80 and best["pr_auc_mean"] >= 0.85),
        })
    checks += _gap_checks(records, "ai4i2020", "product_type", 0.02)
    checks += _gap_checks(records, "ai4i2020", "dirichlet", 0.05)
    fd001 = _find(records, dataset="cmapss-fd001", mode="centralized")
    if fd001:
        top = max(fd001, key=lambda r: r["f1_mean"])
        checks.append({"target": "cmapss FD001 alone: F1 >= 0.95", "model": top["model"],
                       "f1": top["f1_mean"], "met": bool(top["f1_mean"] >= 0.95)})
    checks += _gap_checks(records, "cmapss", "subsets", 0.03)
    checks += _site_checks(sites)
    return checks


def _site_checks(sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every site at least as good federated as alone: with FedAvg for every model, and with
    each model's layers kept per site (FedBN for the CNN and hybrid, FedPer for the LSTM)."""
    comparable = [s for s in sites if s["comparable"]]
    if not comparable:
        return []
    selections = {
        "FedAvg": lambda s: s["strategy"] == "fedavg",
        "FedBN for CNN and hybrid, FedPer for the LSTM": (
            lambda s: s["strategy"] == PER_SITE_LAYERS[s["model"]][0]),
    }
    checks = []
    for name, chosen in selections.items():
        pairs = [s for s in comparable if chosen(s)]
        worse = [s for s in pairs if not s["federated_better_or_equal"]]
        checks.append({
            "target": "every site at least as good federated as alone (F1, own test split), "
                      + name,
            "comparable_site_runs": len(pairs), "worse_federated": len(worse),
            "met": not worse,
        })
    return checks


def _cell(mean: float, std: float | None = None, digits: int = 3) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if std is None or not math.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(records: list[dict[str, Any]]) -> str:
    """The results table (docs/benchmarks/quality.md): failure-class F1 first; accuracy beside
    the majority baseline."""
    header = ("| dataset | sites | settings | model | mode | strategy | F1 (failure) | PR-AUC | "
              "ROC-AUC | accuracy | majority-class accuracy | seeds |")
    lines = [header, "|" + "---|" * 12]
    for r in records:
        lines.append(
            f"| {r['dataset']} | {r['partition']} | {r['settings']} | {r['model']} | "
            f"{r['mode']} | {r['strategy']} | {_cell(r['f1_mean'], r['f1_std'])} | "
            f"{_cell(r['pr_auc_mean'], r['pr_auc_std'])} | {_cell(r['roc_auc_mean'])} | "
            f"{_cell(r['accuracy_mean'])} | {_cell(r['majority_accuracy'])} | "
            f"{len(r['seeds'])} |"
        )
    return "\n".join(lines) + "\n"
