"""The few lines ``networkfed simulate`` ends with: the result beside its trivial references,
per site, the baselines, the health findings with their remedies, then the paths.

Built from the ``summary.json`` document only, so what the terminal says is what the run
folder records. Plain lines (no table), so a pipe or a log never cuts a site name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.markup import escape

__all__ = ["result_lines"]


def result_lines(summary: Mapping[str, Any]) -> list[str]:
    """Rich-markup lines: result, per site, baselines, findings (paths are the caller's)."""
    final, refs = summary.get("final") or {}, summary.get("references") or {}
    if "rmse" in final:
        return _rul_lines(summary) + _findings(summary.get("findings") or [])
    overall_ref = refs.get("overall") or {}
    lines = [
        f"[bold]Result[/] (round {summary.get('rounds_completed', '?')}; best round by "
        f"validation PR-AUC: {summary.get('best_round', '?')})",
        f"  overall    F1 {_n(final.get('f1'))}  PR-AUC {_n(final.get('pr_auc'))}  ROC-AUC "
        f"{_n(final.get('roc_auc'))}   trivial: always-alarm F1 {_n(overall_ref.get('f1'))}, "
        f"PR-AUC {_n(overall_ref.get('pr_auc'))} (the failure rate), ROC-AUC 0.5",
    ]
    site_refs = refs.get("per_site") or {}
    sites = [
        f"{escape(site)} {_n(m.get('f1'))} (always-alarm "
        f"{_n((site_refs.get(site) or {}).get('f1'))})"
        for site, m in (summary.get("per_site") or {}).items()
    ]
    if sites:
        lines.append("  per site   F1 " + ", ".join(sites))
    lines += _baselines(summary.get("baselines") or {})
    return lines + _findings(summary.get("findings") or [])


def _rul_lines(summary: Mapping[str, Any]) -> list[str]:
    """A RUL run: RMSE (NASA score) overall, per site and of the baselines."""

    def scores(m: Mapping[str, Any]) -> str:
        return f"RMSE {_n(m.get('rmse'))} (NASA score {_n(m.get('nasa_score'))})"

    final = summary.get("final") or {}
    ref = (summary.get("references") or {}).get("overall") or {}
    lines = [
        f"[bold]Result[/] (round {summary.get('rounds_completed', '?')}; best round by "
        f"validation RMSE: {summary.get('best_round', '?')})",
        f"  overall    {scores(final)}  MAE {_n(final.get('mae'))}  within ±10 "
        f"{_n(final.get('within_10'))}",
        f"  trivial    predicting the training mean {_n(ref.get('train_mean'))}: RMSE "
        f"{_n(ref.get('mean_rmse'))} (NASA score {_n(ref.get('mean_nasa_score'))}); the cap "
        f"{_n(ref.get('cap'))}: RMSE {_n(ref.get('cap_rmse'))} (NASA score "
        f"{_n(ref.get('cap_nasa_score'))})",
    ]
    sites = [f"{escape(site)} {scores(m)}" for site, m in (summary.get("per_site") or {}).items()]
    if sites:
        lines.append("  per site   " + ", ".join(sites))
    baselines = summary.get("baselines") or {}
    central, local = baselines.get("centralized"), baselines.get("local")
    if isinstance(central, Mapping):
        lines.append(f"  baselines  centralized {scores(central)}")
    if isinstance(local, Mapping) and local:
        alone = ", ".join(f"{escape(site)} {scores(m)}" for site, m in local.items())
        lines.append(f"             local-only (each site alone) {alone}")
    return lines


def _baselines(baselines: Mapping[str, Any]) -> list[str]:
    lines = []
    central = baselines.get("centralized")
    if isinstance(central, Mapping):
        lines.append(f"  baselines  centralized F1 {_n(central.get('f1'))}  PR-AUC "
                     f"{_n(central.get('pr_auc'))}")
    local = baselines.get("local")
    if isinstance(local, Mapping) and local:
        alone = ", ".join(f"{escape(site)} {_n(m.get('f1'))}" for site, m in local.items())
        lines.append(f"             local-only F1 (each site alone) {alone}")
    return lines


def _findings(findings: list[Mapping[str, Any]]) -> list[str]:
    if not findings:
        return ["[green]Findings: none[/] (better than the trivial references everywhere; "
                "the best round is a trained one)"]
    lines, shown = [f"[bold red]Findings ({len(findings)}):[/]"], None
    for finding in findings:
        colour = "red" if finding.get("severity") == "critical" else "yellow"
        lines.append(f"  [{colour}]{escape(str(finding.get('severity')))}[/] "
                     f"{escape(str(finding.get('code')))}: {escape(str(finding.get('message')))}")
        advice = (list(finding.get("causes") or []), list(finding.get("remedies") or []))
        if advice == shown:
            lines.append("    likely cause and remedies: as above")
            continue
        shown = advice
        lines += [f"    likely cause: {escape(str(cause))}" for cause in advice[0]]
        if advice[1]:
            lines.append("    try: " + "; ".join(escape(str(r)) for r in advice[1]))
    return lines


def _n(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:.3f}"
