"""The report sections about the run itself: title, configuration, monitor, plots, versions.

Same contract as :mod:`report_sections`: each function returns escaped HTML, and a section
whose source file is absent says so in a note.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from networkfed.monitoring.html import esc, fmt, image, note, pct, section, table
from networkfed.monitoring.monitor import describe_issue
from networkfed.monitoring.report_data import as_float, failure_rate
from networkfed.monitoring.run_folder import OVERALL, RunRecord

Counts = Mapping[str, tuple[int, int | None]]

FIGURE_TEXT = {
    "metric_curves": "Test metrics of the global model after each round, per site and overall.",
    "baselines_f1": "F1 of the final federated model next to the baselines, per site.",
    "baselines_pr_auc": "PR-AUC of the final federated model next to the baselines, per site.",
    "confusion_matrix": "Final global model on every site's test windows at the chosen alarm "
    "threshold.",
    "precision_recall": "Precision-recall curves; dots mark the operating point of each model's "
    "alarm threshold.",
}


def header(run: RunRecord, counts: Counts) -> str:
    """Title, status and the one-sentence result."""
    summary, manifest = run.summary, run.manifest or {}
    status = str(summary.get("status") or manifest.get("status") or "unknown")
    facts = [
        f"run folder {run.run_dir.name}",
        f"{summary.get('rounds_completed', manifest.get('rounds_completed', '?'))} rounds",
    ]
    if manifest.get("created_at"):
        facts.append(f"created {manifest['created_at']}")
    if isinstance(summary.get("elapsed_seconds"), (int, float)):
        facts.append(f"{summary['elapsed_seconds']:.1f} s")
    if summary.get("stopped_early"):
        facts.append(f"stopped early, best round {summary.get('best_round', '?')}")
    final, overall = summary.get("final") or {}, counts.get(OVERALL)
    sites = len([site for site in counts if site != OVERALL])
    f1, pr_auc, balanced = (as_float(final.get(k)) for k in ("f1", "pr_auc", "balanced_accuracy"))
    result = (
        f"Final global model: F1 {fmt(f1)}, PR-AUC {fmt(pr_auc)}, balanced accuracy "
        f"{fmt(balanced)} on {fmt(overall[0] if overall else None)} test windows from "
        f"{sites} sites ({pct(failure_rate(overall))} failures)."
        if final
        else f"No final metrics: the run ended with status '{status}'."
    )
    return (
        f'<header><h1>NetworkFed run report</h1><p class="lead">{esc(" · ".join(facts))} '
        f'<span class="badge {esc(status)}">{esc(status)}</span></p>'
        f"<p>{esc(_what_ran(run.config))}</p>{_attack(run)}{_privacy(run)}"
        f"<p><strong>{esc(result)}</strong></p></header>"
    )


def _attack(run: RunRecord) -> str:
    """A simulated attack: which sites attacked, and that the metrics are the others'."""
    attack = run.summary.get("attack") or {}
    if not attack:
        return ""
    sites = ", ".join(map(str, attack.get("attackers", [])))
    options = attack.get("options") or {}
    settings = f" {json.dumps(options)}" if options else ""
    return (f'<p class="warn">Simulated {esc(attack.get("name"))}{esc(settings)} attack by '
            f"{len(attack.get('attackers', []))} of the sites ({esc(sites)}); every metric "
            "in this report is that of the honest sites.</p>")


def _privacy(run: RunRecord) -> str:
    """Differential privacy: the ε the run spent, at which δ, with what noise and clip."""
    privacy = run.summary.get("privacy") or {}
    if not privacy:
        return ""
    delta = as_float(privacy.get("delta"))
    spent = (f"ε = {fmt(as_float(privacy.get('epsilon')))} at δ = "
             f"{f'{delta:g}' if delta is not None else '?'} (Opacus' RDP accountant)")
    noise = (f"noise multiplier {fmt(as_float(privacy.get('noise_multiplier')))}, clip "
             f"{fmt(as_float(privacy.get('clip')))}")
    if privacy.get("mode") == "sample":
        sites = ", ".join(f"{site} {fmt(as_float(eps))}"
                          for site, eps in (privacy.get("per_site_epsilon") or {}).items())
        changes = ", ".join(privacy.get("dp_sgd_changes") or []) or "none"
        text = (f"Sample-level DP-SGD at every site: largest {spent}; per site {sites}; "
                f"{noise} per example; trained with Opacus' fix ({changes}), saved as the "
                "original model.")
    else:
        text = (f"Client-level differential privacy ({privacy.get('side')} side): {spent} "
                f"after {privacy.get('rounds_accounted')} rounds at sampling rate "
                f"{fmt(as_float(privacy.get('sample_rate')))}; {noise} per site update.")
    return f"<p>{esc(text + ' Baselines, if any, are not private.')}</p>"


def _what_ran(config: Mapping[str, Any] | None) -> str:
    """One line: model, strategy, dataset, rounds, epochs, seed (full config further down)."""
    if config is None:
        return "config.toml not found: the run configuration is not recorded."
    data = config.get("data", {})
    options = config.get("strategy_options") or {}
    strategy = str(config.get("strategy", "?")) + (f" {json.dumps(options)}" if options else "")
    kept = [text for key, text in (
        ("fedbn", "FedBN (each site keeps its own BatchNorm layers)"),
        ("fedper", "FedPer (each site keeps its own output layer)"),
    ) if config.get(key)]
    if kept:
        strategy += " with " + " and ".join(kept)
    return (
        f"{str(config.get('model', '?')).upper()} model, {strategy}, "
        f"{data.get('dataset', '?')} data ({data.get('partition', '?')} partition), "
        f"{config.get('rounds', '?')} rounds x {config.get('local_epochs', '?')} local epochs, "
        f"seed {config.get('seed', '?')}, {config.get('engine', '?')} engine"
        f"{', with baselines' if config.get('baselines') else ''}."
    )


def configuration(run: RunRecord) -> str:
    """The resolved run configuration from ``config.toml``, flattened to dotted keys."""
    if run.config is None:
        missing = note("config.toml not found: the configuration of this run is not recorded.")
        return section("Run configuration", missing, "config")
    rows = [(key, _show(value)) for key, value in _flatten(run.config)]
    body = table(["Option", "Value"], rows, numeric_from=None)
    return section("Run configuration (config.toml)", body, "config")


def monitor(run: RunRecord) -> str:
    """The ModelPerformanceMonitor's verdict and each issue in plain words."""
    found = run.summary.get("monitor")
    if not isinstance(found, dict):
        return section(
            "Monitor findings", note("summary.json records no monitor verdict."), "monitor"
        )
    status, issues = str(found.get("status", "unknown")), found.get("issues") or []
    shown = status.replace("_", " ")
    if not issues:
        text = "No training issues detected." if status == "healthy" else f"Status: {status}."
        return section("Monitor findings", note(text, "good"), "monitor")
    items = "".join(f"<li>{esc(_issue_text(issue))}</li>" for issue in issues)
    body = (
        f'<p>Status: <span class="badge {esc(status)}">{esc(shown)}</span> '
        f'(the monitor checks the last five rounds)</p><ul class="findings">{items}</ul>'
    )
    return section("Monitor findings", body, "monitor")


def figures(run: RunRecord, written: Mapping[str, Path]) -> str:
    """The plots, embedded; a note for the ones the run's files could not support."""
    parts = [
        image(path, FIGURE_TEXT.get(name, name), FIGURE_TEXT.get(name, name))
        for name, path in written.items()
    ]
    if run.predictions is None:
        parts.append(
            note(
                "predictions.csv not found: the confusion matrix and the "
                "precision-recall curve are omitted."
            )
        )
    return section("Plots", "".join(parts), "plots")


def versions(run: RunRecord) -> str:
    """Everything in ``manifest.json``: versions, seed, data fingerprint, engine."""
    if run.manifest is None:
        return section("Versions", note("manifest.json not found."), "versions")
    rows = [(key, _show(value)) for key, value in _flatten(run.manifest)]
    return section(
        "Versions and provenance", table(["Field", "Value"], rows, numeric_from=None), "versions"
    )


def _issue_text(issue: object) -> str:
    if isinstance(issue, str):
        return describe_issue(issue)
    return json.dumps(issue, default=str)


def _flatten(value: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            rows += _flatten(item, f"{name}.")
        else:
            rows.append((name, item))
    return rows


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(none)"
    if isinstance(value, Mapping):
        return "(none)" if not value else json.dumps(value)
    return str(value)
