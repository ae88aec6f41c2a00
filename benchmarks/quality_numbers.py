"""Quality benchmark numbers: held-out records -> per-configuration aggregates -> target checks.

Shared by the Markdown tables (:mod:`quality_report`, :mod:`quality_report_rul`) and the
command that writes ``quality.json`` (:mod:`quality`): a target reads the same aggregate row
a table shows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from quality_selection import LOWER_IS_BETTER

__all__ = ["KEY", "METRICS", "RUL_METRICS", "aggregate", "chosen_row", "find", "mean_sd", "num",
           "site_aggregates", "target_checks"]

METRICS = ("f1", "pr_auc", "roc_auc", "precision", "recall", "threshold",
           "rmse", "nasa_score", "mae", "within_10")
"""Classification metrics, then the remaining-life ones (NaN on the other kind of row)."""
KEY = ("scenario", "model", "mode", "settings", "strategy")
RUL_METRICS = ("rmse", "nasa_score", "mae", "within_10")
"""Test metrics of a RUL row: RMSE (the headline), the asymmetric NASA score, MAE and the
share of engines within +-10 cycles; kept per test site (C-MAPSS subset) too."""


def num(value: Any, digits: int = 3) -> str:
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def mean_sd(values: Sequence[Any]) -> tuple[float, float]:
    """Mean and sample SD of the finite values (SD 0 for one; NaN when none)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return math.nan, math.nan
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def aggregate(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (scenario, model, mode, settings, strategy): the per-seed test and validation
    metrics and their mean and sample SD."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        groups[tuple(r[k] for k in KEY)].append(r)
    rows = []
    for key, mine in groups.items():
        mine = sorted(mine, key=lambda r: r["seed"])
        row: dict[str, Any] = dict(zip(KEY, key, strict=True))
        row["seeds"] = [r["seed"] for r in mine]
        row["per_seed"] = [{"seed": r["seed"], "test": {m: r["test"].get(m) for m in METRICS},
                            "validation": {m: r["validation"].get(m) for m in METRICS},
                            "best_round": r.get("best_round")} for r in mine]
        for split in ("test", "validation"):
            for metric in METRICS:
                mean, sd = mean_sd([r[split].get(metric) for r in mine])
                row[f"{split}_{metric}_mean"], row[f"{split}_{metric}_sd"] = mean, sd
        row["test_examples"] = mine[0]["test"].get("num_examples")
        row["test_failures"] = mine[0]["test"].get("positives")
        row["majority_accuracy"] = mine[0].get("majority_accuracy")
        row["mean_predictor_rmse"] = mine[0].get("mean_predictor_rmse")
        row["per_site_test"] = site_aggregates(mine) if any(
            "rmse" in r["test"] for r in mine) else {}
        row["seconds_mean"] = mean_sd([r.get("seconds") for r in mine])[0]
        row["setup"] = mine[0].get("setup", {})
        rows.append(row)
    return rows


def site_aggregates(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per test site: mean and sample SD over seeds of each RUL metric (``rmse_mean``, ...)."""
    values: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        for site, metrics in record.get("per_site_test", {}).items():
            for metric in RUL_METRICS:
                values[site][metric].append(metrics.get(metric))
    out: dict[str, dict[str, float]] = {}
    for site, by_metric in sorted(values.items()):
        out[site] = {}
        for metric, seen in by_metric.items():
            out[site][f"{metric}_mean"], out[site][f"{metric}_sd"] = mean_sd(seen)
    return out


def find(rows: Sequence[Mapping[str, Any]], **fields: Any) -> Mapping[str, Any] | None:
    found = [r for r in rows if all(r.get(k) == v for k, v in fields.items())]
    return found[0] if found else None


def chosen_row(quality: Mapping[str, Any], scenario: str, model: str, mode: str
               ) -> Mapping[str, Any] | None:
    """The held-out aggregate of ``model``'s validation-chosen configuration for ``mode``."""
    choice = quality["choices"][scenario]["models"].get(model, {}).get(mode)
    if choice is None:
        return None
    strategy = choice["strategy"] if mode == "federated" else "-"
    return find(quality["aggregates"], scenario=scenario, model=model, mode=mode,
                settings=choice["settings"], strategy=strategy)


def _test_values(row: Mapping[str, Any], metric: str, sites: Sequence[str]
                 ) -> dict[str, float]:
    """The mean test ``metric`` overall (label ``metric``) or per site (``"FD002 rmse"``;
    ``("*",)``: every site of the row)."""
    if not sites:
        return {metric: row[f"test_{metric}_mean"]}
    per_site = row.get("per_site_test", {})
    names = sorted(per_site) if tuple(sites) == ("*",) else sites
    return {f"{site} {metric}": per_site.get(site, {}).get(f"{metric}_mean", math.nan)
            for site in names}


def _within(value: float, bound: float, lower_is_better: bool) -> bool:
    if value is None or not math.isfinite(value):
        return False
    return value <= bound if lower_is_better else value >= bound


def _bound_check(row: Mapping[str, Any], target: Any) -> dict[str, Any]:
    """``minimum`` / ``maximum`` bounds, overall or per site."""
    values: dict[str, float] = {}
    met = True
    for bounds, lower in ((target.minimum, False), (target.maximum, True)):
        for metric, bound in bounds.items():
            mine = _test_values(row, metric, target.sites)
            values.update(mine)
            met = met and all(_within(v, bound, lower) for v in mine.values())
    return {**values, "met": bool(met),
            "measured": ", ".join(f"{m} {num(v)}" for m, v in values.items())}


def _gap_check(row: Mapping[str, Any], central: Mapping[str, Any], target: Any
               ) -> dict[str, Any]:
    """Federated against centralized on ``target.metric``; the gap is how much worse the
    federated model is (a share of the centralized value when ``relative``)."""
    lower = target.metric in LOWER_IS_BETTER
    fed = _test_values(row, target.metric, target.sites)
    cen = _test_values(central, target.metric, target.sites)

    def gap(f: float, c: float) -> float:
        worse = f - c if lower else c - f
        return worse / c if target.relative else worse

    def text(g: float) -> str:
        return f"{100 * g:+.1f} %" if target.relative else num(g)

    gaps = {k: gap(fed[k], cen.get(k, math.nan)) for k in fed}
    met = all(math.isfinite(g) and g <= target.gap for g in gaps.values())
    if not target.sites:
        (key,) = fed
        return {"federated": fed[key], "centralized": cen[key], "gap": gaps[key],
                "met": bool(met), "measured": f"federated {num(fed[key])} vs centralized "
                f"{num(cen[key])} (gap {text(gaps[key])})"}
    worst = max(gaps.values(), default=math.nan)
    return {"per_site": {k: {"federated": fed[k], "centralized": cen.get(k), "gap": gaps[k]}
                         for k in fed}, "gap": worst, "met": bool(met),
            "measured": "; ".join(f"{k.split()[0]} federated {num(fed[k], 2)} vs centralized "
                                  f"{num(cen.get(k), 2)} ({text(gaps[k])})" for k in fed)}


def target_checks(quality: Mapping[str, Any], targets: Sequence[Any]) -> list[dict[str, Any]]:
    """Each target on held-out seeds: the scenario's validation-chosen best model (in its
    primary mode) against bounds, or against the same model centralized with its own
    chosen settings."""
    checks = []
    for target in targets:
        choice = quality["choices"].get(target.scenario)
        if choice is None:
            continue
        best, primary = choice["best_model"], choice["primary_mode"]
        row = chosen_row(quality, target.scenario, best, primary)
        check: dict[str, Any] = {"target": target.text, "scenario": target.scenario,
                                 "model": best, "mode": primary,
                                 "strategy": row["strategy"] if row else None,
                                 "settings": row["settings"] if row else None}
        if row is None:
            checks.append({**check, "met": False, "measured": "not measured"})
            continue
        if target.gap is None:
            checks.append({**check, **_bound_check(row, target)})
            continue
        central = chosen_row(quality, target.scenario, best, "centralized")
        if central is None:
            checks.append({**check, "met": False, "measured": "no centralized run"})
            continue
        checks.append({**check, **_gap_check(row, central, target),
                       "centralized_settings": central["settings"]})
    return checks


def choice_rows(selection: Mapping[str, Any], keep: Callable[[Mapping[str, Any] | None], bool],
                scores: Callable[[Mapping[str, Any]], str]) -> list[str]:
    """Table rows of the choices of the scenarios ``keep`` accepts: per scenario, model and
    mode the chosen candidate, ``scores`` (cells) of its validation means, and whether it is
    the scenario's best model."""
    rows = []
    for scenario, choice in selection["choices"].items():
        if not keep(choice):
            continue
        for model, modes in choice["models"].items():
            for mode, pick in modes.items():
                best = model == choice["best_model"] and mode == choice["primary_mode"]
                rows.append(f"| {scenario} | {model} | {mode} | {pick['settings']} | "
                            f"{pick['strategy']} | {scores(pick['validation_mean'])} | "
                            f"{'**yes**' if best else ''} |")
    return rows


def candidate_rows(selection: Mapping[str, Any],
                   keep: Callable[[Mapping[str, Any] | None], bool],
                   scores: Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]]], str]
                   ) -> list[str]:
    """Table rows of every searched candidate of the scenarios ``keep`` accepts: ``scores``
    (cells) of its validation means and per-seed metrics, the best round per seed of a
    federated candidate, and whether it was chosen."""
    rows = []
    for r in selection["candidates"]:
        if not keep(selection["choices"].get(r["scenario"])):
            continue
        rounds = (" / ".join(str(v.get("best_round")) for v in r["validation"])
                  if r["mode"] == "federated" else "—")
        rows.append(f"| {r['scenario']} | {r['model']} | {r['mode']} | {r['settings']} | "
                    f"{r['strategy']} | {scores(r['validation_mean'], r['validation'])} | "
                    f"{rounds} | {'**yes**' if r.get('chosen') else ''} |")
    return rows
