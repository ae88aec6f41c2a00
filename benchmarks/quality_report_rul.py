"""Quality benchmark tables of the remaining-life (RUL) scenarios: RMSE and NASA score.

The classification tables (:mod:`quality_report`) rank by F1; a RUL scenario is scored by
the errors of its predicted remaining life, overall and per C-MAPSS subset (the literature
reports each subset on its own), so its rows get their own compact tables: federated,
centralized and local-only side by side per subset, with the tree regressors beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quality_numbers import candidate_rows, choice_rows, chosen_row, find, num

__all__ = ["is_rul", "rul_choices_table", "rul_headline_table", "rul_results_table",
           "rul_selection_table"]
ALL = "all"
"""The row of a scenario's pooled test engines (every subset together)."""


def is_rul(choice: Mapping[str, Any] | None) -> bool:
    """Whether a scenario's choice (or declaration) is a remaining-life scenario."""
    return bool(choice) and choice.get("task") == "rul"


def _cell(row: Mapping[str, Any] | None, site: str, metric: str, digits: int) -> str:
    if row is None:
        return "—"
    if site == ALL:
        mean, sd = row.get(f"test_{metric}_mean"), row.get(f"test_{metric}_sd")
    else:
        metrics = row.get("per_site_test", {}).get(site, {})
        mean, sd = metrics.get(f"{metric}_mean"), metrics.get(f"{metric}_sd")
    return f"{num(mean, digits)} ± {num(sd, digits)}"


def _pair(row: Mapping[str, Any] | None, site: str) -> str:
    """``RMSE / NASA score`` of one row at one site, mean ± SD over held-out seeds."""
    if row is None:
        return "—"
    return f"{_cell(row, site, 'rmse', 2)} / {_cell(row, site, 'nasa_score', 0)}"




def rul_headline_table(quality: Mapping[str, Any]) -> str:
    """One row per RUL scenario and test subset: the validation-chosen best model federated,
    centralized and local-only (each with its own chosen settings) and the tree regressors
    on the same windows, as test RMSE / NASA score; then the targets on one line (the README
    holds this table and has a length limit). Empty without RUL scenarios."""
    lines = ["| scenario | subset | best model (chosen on validation) | federated | "
             "centralized | local-only | random forest | gradient boosting |",
             "|---|---|---|---|---|---|---|---|"]
    for scenario, choice in quality["choices"].items():
        if not is_rul(choice):
            continue
        best = choice["best_model"]
        rows = {mode: chosen_row(quality, scenario, best, mode)
                for mode in ("federated", "centralized", "local")}
        primary = rows.get(choice["primary_mode"])
        if primary is None:
            continue
        forest = find(quality["aggregates"], scenario=scenario, model="random_forest")
        boosted = find(quality["aggregates"], scenario=scenario, model="gradient_boosting")
        for site in sorted(primary.get("per_site_test", {})):  # pooled: the results table
            lines.append(
                f"| {scenario} | {site} | {best} ({primary['settings']}) | "
                f"{_pair(rows['federated'], site)} | {_pair(rows['centralized'], site)} | "
                f"{_pair(rows['local'], site)} | {_pair(forest, site)} | "
                f"{_pair(boosted, site)} |")
    if len(lines) == 2:
        return ""
    checks = "; ".join(f"{c['target']}: {'met' if c['met'] else 'MISSED'} ({c['measured']})"
                       for c in quality["targets"]
                       if is_rul(quality["choices"].get(c["scenario"])))
    return "\n" + "\n".join(lines) + f"\n\nRUL targets: {checks or '—'}.\n"


def rul_results_table(quality: Mapping[str, Any]) -> str:
    """Every held-out RUL configuration: overall test metrics, RMSE per seed and per subset,
    the validation RMSE that chose it and the best round (by validation RMSE)."""
    rows = [r for r in quality["aggregates"] if is_rul(quality["choices"].get(r["scenario"]))]
    if not rows:
        return ""
    lines = ["| scenario | model | mode | settings | strategy | RMSE | RMSE per seed | "
             "NASA score | MAE | within ±10 | RMSE per subset | val RMSE | best round |",
             "|---" * 13 + "|"]
    for r in rows:
        rounds = (" / ".join(str(s["best_round"]) for s in r["per_seed"])
                  if r["per_seed"][0].get("best_round") is not None else "—")
        subsets = "; ".join(f"{site} {num(m.get('rmse_mean'), 2)}"
                            for site, m in r.get("per_site_test", {}).items())
        lines.append(
            f"| {r['scenario']} | {r['model']} | {r['mode']} | {r['settings']} | "
            f"{r['strategy']} | {_cell(r, ALL, 'rmse', 2)} | "
            f"{' / '.join(num(s['test'].get('rmse'), 2) for s in r['per_seed'])} | "
            f"{_cell(r, ALL, 'nasa_score', 0)} | {num(r.get('test_mae_mean'), 2)} | "
            f"{num(r.get('test_within_10_mean'), 2)} | {subsets or '—'} | "
            f"{num(r.get('validation_rmse_mean'), 2)} | {rounds} |")
    reference = {r["scenario"]: r.get("mean_predictor_rmse") for r in rows}
    floor = "; ".join(f"{s} {num(v, 2)}" for s, v in reference.items())
    return ("\nRemaining useful life (lower is better). Predicting the training mean "
            f"everywhere scores test RMSE {floor}.\n\n" + "\n".join(lines) + "\n")


def rul_choices_table(selection: Mapping[str, Any]) -> str:
    """The RUL choices with the validation RMSE and MAE that made them."""
    lines = ["| scenario | model | mode | chosen settings | chosen strategy | val RMSE | "
             "val MAE | best model |", "|---|---|---|---|---|---|---|---|"]
    lines += choice_rows(selection, is_rul,
                         lambda mean: f"{num(mean.get('rmse'), 2)} | {num(mean.get('mae'), 2)}")
    return "\n" + "\n".join(lines) + "\n" if len(lines) > 2 else ""


def rul_selection_table(selection: Mapping[str, Any]) -> str:
    """Every RUL candidate with its validation RMSE per tuning seed."""
    lines = ["| scenario | model | mode | settings | strategy | val RMSE | val RMSE per seed | "
             "val MAE | best round per seed | chosen |", "|---" * 10 + "|"]
    lines += candidate_rows(
        selection, is_rul,
        lambda mean, seeds: f"{num(mean.get('rmse'), 2)} | "
        f"{' / '.join(num(v.get('rmse'), 2) for v in seeds)} | {num(mean.get('mae'), 2)}")
    return "\n" + "\n".join(lines) + "\n" if len(lines) > 2 else ""
