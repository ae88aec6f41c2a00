"""The results sections of ``report.html``: headline, data, per site, per round, baselines.

One function per section, in page order (the sections about the run itself are in
:mod:`report_context`). Each takes the loaded run (and the numbers derived once in
:mod:`report_data`) and returns HTML built only from the escaping helpers in
:mod:`networkfed.monitoring.html`. A section whose source file is absent says so in a note
instead of disappearing silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from networkfed.monitoring.html import esc, fmt, note, pct, section, table
from networkfed.monitoring.report_data import (
    as_float,
    baseline_values,
    failure_rate,
    final_per_site,
    local_overall,
    majority_accuracy,
    split_sizes,
)
from networkfed.monitoring.run_folder import OVERALL, RunRecord, round_rows

Counts = Mapping[str, tuple[int, int | None]]

RATE_COLUMNS = (
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced acc."),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("threshold", "Threshold"),
    ("loss", "Loss"),
)


def _inputs(data: dict) -> str:
    """The data options that change what the model sees, when a run set them."""
    parts = []
    if data.get("features"):
        parts.append("features " + ", ".join(data["features"]))
    if data.get("feature_bins"):
        parts.append(f"up to {data['feature_bins']} bin columns per feature (edges fitted from "
                     "the sites' per-class histograms)")
    return (" Inputs: " + "; ".join(parts) + ".") if parts else ""


def data_summary(run: RunRecord, counts: Counts) -> str:
    """Sites, windows per split and the failure rate of each site's test windows."""
    train, val = split_sizes(run, "train"), split_sizes(run, "val")
    data = (run.config or {}).get("data", {})
    length = data.get("sequence_length", "?")
    shape = "single rows (windows of 1 step)" if length == 1 else f"windows of {length} steps"
    intro = note(
        f"Dataset {data.get('dataset', 'unknown')}, partition "
        f"{data.get('partition', 'unknown')}; {shape}.{_inputs(data)}"
    )
    headers = [
        "Site",
        *(["Train windows"] if train else []),
        *(["Val windows"] if val else []),
        "Test windows",
        "Test failures",
        "Failure rate",
    ]
    if not counts:
        return section("Data", intro + note("No test window counts recorded."), "data")
    rows = []
    for site, count in sorted(counts.items(), key=lambda item: item[0] == OVERALL):
        sizes = [fmt(train.get(site))] if train else []
        sizes += [fmt(val.get(site))] if val else []
        rows.append([site, *sizes, fmt(count[0]), fmt(count[1]), pct(failure_rate(count))])
    body = intro + table(headers, rows, highlight=[len(rows) - 1] if OVERALL in counts else [])
    return section("Data", body, "data")


def headline(run: RunRecord, counts: Counts) -> str:
    """Overall test metrics of the final model and the baselines, with the accuracy trap."""
    majority = majority_accuracy(counts.get(OVERALL))
    candidates = [
        (
            f"Federated, final round ({run.summary.get('rounds_completed', '?')})",
            run.summary.get("final"),
        )
    ]
    best = run.summary.get("best_round")
    if isinstance(best, int) and best != run.summary.get("rounds_completed"):
        best_rows = round_rows(run.metrics)
        picked = best_rows[best_rows["round"] == best]
        if not picked.empty:
            candidates.append((f"Federated, best round ({best})", picked.iloc[0].to_dict()))
    candidates.append(("Centralized baseline (pooled data)", run.baselines.get("centralized")))
    candidates.append(("Local-only (each site alone)", local_overall(run)))
    rows = [
        _metric_row(label, metrics, majority)
        for label, metrics in candidates
        if isinstance(metrics, dict)
    ]
    if not rows:
        missing = note("summary.json holds no final metrics (the run did not finish a round).")
        return section("Headline metrics (all test windows)", missing, "headline")
    headers = ["Model", "Accuracy", "Majority-class acc.", *[n for _, n in RATE_COLUMNS[1:]]]
    warning = note(
        f"Accuracy alone misleads here: with {pct(failure_rate(counts.get(OVERALL)))} failures, "
        f"a model that never raises an alarm already scores {pct(majority)} accuracy (the "
        "majority-class accuracy), so judge the model by F1, PR-AUC and balanced accuracy.",
        "warn",
    )
    return section(
        "Headline metrics (all test windows)", table(headers, rows) + warning, "headline"
    )


def per_site(run: RunRecord, counts: Counts) -> str:
    """The final federated model on each site's test windows."""
    finals = final_per_site(run)
    if not finals:
        return section("Per site", note("summary.json holds no per-site metrics."), "per-site")
    headers = [
        "Site",
        "Test windows",
        "Failures",
        "Accuracy",
        "Majority-class acc.",
        *[n for _, n in RATE_COLUMNS[1:]],
    ]
    rows = []
    for site, metrics in finals.items():
        count = counts.get(site)
        row = _metric_row(site, metrics, majority_accuracy(count))
        rows.append(
            [row[0], fmt(count[0] if count else None), fmt(count[1] if count else None), *row[1:]]
        )
    body = table(headers, rows, highlight=[len(rows) - 1] if OVERALL in finals else [])
    if (run.config or {}).get("fedbn") or (run.config or {}).get("fedper"):
        body = note("FedBN / FedPer: each site is scored with its own layers and the shared "
                    "rest of the model (networkfed predict --site NAME uses the same).") + body
    return section("Per site (final federated model)", body, "per-site")


def per_round(run: RunRecord) -> str:
    """Overall test metrics of the global model after every round; the best round marked."""
    rows = round_rows(run.metrics)
    if rows.empty:
        return section(
            "Per round", note("metrics.jsonl holds no overall federated test rows."), "per-round"
        )
    best = run.summary.get("best_round")
    table_rows = [
        [
            fmt(int(r["round"])),
            *[fmt(as_float(r[k]), 4 if k == "loss" else 3) for k, _ in RATE_COLUMNS],
        ]
        for _, r in rows.iterrows()
    ]
    marked = [i for i, r in enumerate(rows["round"]) if r == best]
    text = (
        note(
            "Round 0 is the initial global model, before any training. "
            f"Highlighted: the best round ({best})."
        )
        if marked
        else ""
    )
    body = table(["Round", *[n for _, n in RATE_COLUMNS]], table_rows, highlight=marked)
    return section("Per round (overall, test windows)", body + text, "per-round")


def baselines(run: RunRecord) -> str:
    """Federated vs local-only (and centralized): what federation gained each site."""
    values = baseline_values(run)
    if not values:
        return section(
            "Baselines",
            note(
                "This run has no baselines (run simulate with "
                "--baselines to train centralized and local-only "
                "models on the same data)."
            ),
            "baselines",
        )
    headers = [
        "Site",
        "F1 federated",
        "F1 local-only",
        "F1 gain",
        "F1 centralized",
        "PR-AUC federated",
        "PR-AUC local-only",
        "PR-AUC gain",
        "PR-AUC centralized",
    ]
    rows, gains = [], []
    for group, modes in values.items():
        cells = [group]
        for metric in ("f1", "pr_auc"):
            fed, local, central = (
                modes.get(mode, {}).get(metric, math.nan)
                for mode in ("federated", "local", "centralized")
            )
            cells += [fmt(fed), fmt(local), _signed(fed - local), fmt(central)]
        rows.append(cells)
        if group != OVERALL and "local" in modes:
            gains.append(_gain_sentence(group, modes))
    items = "".join(f"<li>{esc(text)}</li>" for text in gains)
    body = table(headers, rows, highlight=[len(rows) - 1])
    body += f"<p>What federation gained each site over training alone:</p><ul>{items}</ul>"
    return section("Baselines: federated vs centralized vs local-only", body, "baselines")


def _metric_row(label: str, metrics: Mapping[str, Any], majority: float) -> list[str]:
    values = [fmt(as_float(metrics.get(key)), 4 if key == "loss" else 3) for key, _ in RATE_COLUMNS]
    return [label, values[0], fmt(majority), *values[1:]]


def _gain_sentence(site: str, modes: Mapping[str, Mapping[str, float]]) -> str:
    fed, local = modes["federated"], modes["local"]
    f1_gain, pr_gain = fed["f1"] - local["f1"], fed["pr_auc"] - local["pr_auc"]
    verb = "lost" if f1_gain < 0 else "gained"
    return (
        f"{site}: federation {verb} {fmt(abs(f1_gain))} F1 ({fmt(local['f1'])} alone -> "
        f"{fmt(fed['f1'])} federated); PR-AUC {_signed(pr_gain)}."
    )


def _signed(value: float) -> str:
    text = fmt(value)
    return text if text == fmt(float("nan")) or value < 0 else f"+{text}"
