"""The numbers the report derives from a run folder, kept apart from HTML and plotting.

Pure functions of a :class:`RunRecord`; the engine's own numbers (``summary.json``) are the
source of truth and ``predictions.csv`` only fills what the summary does not say.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from networkfed.monitoring.run_folder import OVERALL, RunRecord, latest_rows

COMPARED_METRICS = {"f1": "F1 (failure class)", "pr_auc": "PR-AUC"}


def predictions_of(run: RunRecord, mode: str) -> pd.DataFrame | None:
    """The rows of ``predictions.csv`` for one mode, or ``None`` when there are none."""
    if run.predictions is None:
        return None
    rows = run.predictions[run.predictions["mode"] == mode]
    return None if rows.empty else rows


def final_per_site(run: RunRecord) -> dict[str, dict[str, Any]]:
    """The final federated metrics of each site, then ``overall``."""
    per_site = run.summary.get("per_site", {})
    found = {site: m for site, m in per_site.items() if isinstance(m, dict)}
    final = run.summary.get("final")
    if isinstance(final, dict):
        found[OVERALL] = final
    return found


def class_counts(run: RunRecord) -> dict[str, tuple[int, int | None]]:
    """``{site | "overall": (test windows, failures)}``; failures ``None`` when unknown.

    Taken from the final metrics (``num_examples`` / ``positives``), else counted in
    ``predictions.csv``; the report needs them for failure rates and majority-class accuracy.
    """
    counts: dict[str, tuple[int, int | None]] = {}
    for site, metrics in final_per_site(run).items():
        windows, positives = (
            as_float(metrics.get("num_examples")),
            as_float(metrics.get("positives")),
        )
        if math.isfinite(windows):
            counts[site] = (int(windows), int(positives) if math.isfinite(positives) else None)
    federated = predictions_of(run, "federated")
    if federated is not None:
        for site, rows in federated.groupby("site", sort=False):
            counts[str(site)] = (len(rows), int(rows["y_true"].sum()))
        counts[OVERALL] = (len(federated), int(federated["y_true"].sum()))
    return counts


def failure_rate(counts: tuple[int, int | None] | None) -> float:
    """Failures / windows, NaN when unknown."""
    if counts is None or counts[1] is None or counts[0] == 0:
        return math.nan
    return counts[1] / counts[0]


def majority_accuracy(counts: tuple[int, int | None] | None) -> float:
    """Accuracy of always predicting the more common class: the bar accuracy must beat."""
    rate = failure_rate(counts)
    return max(rate, 1.0 - rate) if math.isfinite(rate) else math.nan


def split_sizes(run: RunRecord, split: str) -> dict[str, int]:
    """``{site: windows}`` of a split as logged in ``metrics.jsonl`` (empty when not logged).

    The engine logs training windows per site and validation windows overall only; a missing
    ``overall`` is the sum of the sites.
    """
    rows = latest_rows(run.metrics, "federated", split)
    sizes = {site: as_float(row.get("num_examples")) for site, row in rows.items()}
    found = {site: int(size) for site, size in sizes.items() if math.isfinite(size)}
    if found and OVERALL not in found:
        found[OVERALL] = sum(found.values())
    return found


def baseline_values(run: RunRecord) -> dict[str, dict[str, dict[str, float]]]:
    """``{site | "overall": {mode: {metric: value}}}`` for the final model of every mode.

    Empty when the run has no baselines. Federated values are the final round's.
    """
    local = {**latest_rows(run.metrics, "local"), **run.baselines.get("local", {})}
    if local_overall(run) is not None:
        local[OVERALL] = local_overall(run)
    central = latest_rows(run.metrics, "centralized")
    if isinstance(run.baselines.get("centralized"), dict):
        central[OVERALL] = run.baselines["centralized"]
    if not local and not central:
        return {}
    federated = final_per_site(run)
    groups = [site for site in federated if site != OVERALL] + [OVERALL]
    values: dict[str, dict[str, dict[str, float]]] = {}
    for group in groups:
        sources = {
            "federated": federated.get(group),
            "local": local.get(group),
            "centralized": central.get(group),
        }
        values[group] = {
            mode: _metric_subset(found)
            for mode, found in sources.items()
            if isinstance(found, dict)
        }
    return values


def local_overall(run: RunRecord) -> dict[str, Any] | None:
    """Local-only models pooled over sites: ``summary.json``'s ``local_overall`` or the
    ``overall`` row of ``metrics.jsonl``; ``None`` when the run has neither."""
    found = run.baselines.get("local_overall")
    if isinstance(found, dict):
        return found
    return latest_rows(run.metrics, "local").get(OVERALL)


def as_float(value: object) -> float:
    """A JSON number as float; ``null``, strings and booleans -> NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _metric_subset(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: as_float(metrics.get(name)) for name in COMPARED_METRICS}
