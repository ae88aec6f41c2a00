"""The report's first section: the findings of the health check, then the final model next to
the trivial references on the same test labels, per site and overall.

Same contract as :mod:`report_sections`: escaped HTML from a loaded run. A run folder written
before the health check existed has no ``findings`` in ``summary.json``: the section says so,
and the references are derived from the test counts (they depend on nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from networkfed.federated.references import trivial_references
from networkfed.monitoring.html import esc, fmt, note, pct, section, table
from networkfed.monitoring.report_data import as_float
from networkfed.monitoring.run_folder import OVERALL, RunRecord

__all__ = ["findings_list", "health"]

Counts = Mapping[str, tuple[int, int | None]]


def health(run: RunRecord, counts: Counts) -> str:
    """Findings (or that there are none), then the references table."""
    return section("Health check: findings and trivial references",
                   findings_list(run.summary.get("findings")) + _references(run, counts),
                   "health")


def findings_list(found: Any) -> str:
    """The findings of ``summary.json`` as HTML (a note when there are none)."""
    if not isinstance(found, list):
        return note("summary.json records no health check (a run folder from an older version).")
    if not found:
        return note("No findings: the final model beats the trivial references overall and at "
                    "every site, and its best round is a trained one.", "good")
    items = "".join(_finding(f) for f in found if isinstance(f, Mapping))
    return f'<ul class="findings">{items}</ul>'


def _finding(finding: Mapping[str, Any]) -> str:
    severity = str(finding.get("severity", "warning"))
    badge = "failed" if severity == "critical" else "running"
    parts = [f'<span class="badge {badge}">{esc(severity)}</span> '
             f"<strong>{esc(finding.get('code', ''))}</strong>: {esc(finding.get('message', ''))}"]
    parts += [f"<br>Likely cause: {esc(cause)}" for cause in finding.get("causes") or []]
    remedies = "".join(f"<li>{esc(r)}</li>" for r in finding.get("remedies") or [])
    if remedies:
        parts.append(f"<br>Remedies to try:<ul>{remedies}</ul>")
    return f"<li>{''.join(parts)}</li>"


def _references(run: RunRecord, counts: Counts) -> str:
    saved = run.summary.get("references") or {}
    final = {**(run.summary.get("per_site") or {}), OVERALL: run.summary.get("final") or {}}
    rows = []
    for site, metrics in final.items():
        ref = _reference(saved, site, counts)
        rows.append([site, pct(as_float(ref.get("failure_rate"))),
                     fmt(as_float(metrics.get("f1"))), fmt(as_float(ref.get("f1"))),
                     fmt(as_float(metrics.get("pr_auc"))), fmt(as_float(ref.get("pr_auc"))),
                     fmt(as_float(metrics.get("roc_auc"))), fmt(as_float(ref.get("roc_auc")))])
    headers = ["Site", "Failure rate", "F1", "Always-alarm F1", "PR-AUC", "Chance PR-AUC",
               "ROC-AUC", "Chance ROC-AUC"]
    text = note("A model that knows nothing scores the references: alarming on every window "
                "gives F1 2p/(1+p) for a failure rate p; a random score has PR-AUC p and ROC-AUC "
                "0.5. The model is worth using only well above them.")
    return table(headers, rows, highlight=[len(rows) - 1]) + text


def _reference(saved: Mapping[str, Any], site: str, counts: Counts) -> Mapping[str, Any]:
    found = saved.get("overall") if site == OVERALL else (saved.get("per_site") or {}).get(site)
    if isinstance(found, Mapping):
        return found
    windows, failures = counts.get(site, (0, None))
    return trivial_references(failures, windows)
