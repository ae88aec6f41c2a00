"""Write a run folder's ``plots/*.png`` and its self-contained ``report.html``.

The report reads only what the engine wrote (``metrics.jsonl``, ``summary.json`` and, when
present, ``config.toml``, ``manifest.json``, ``predictions.csv``) and never changes it. The
plots are embedded in the HTML as base64 data URIs, so ``report.html`` can be mailed or
attached alone; the PNGs stay in ``plots/`` for slides.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from networkfed.monitoring import (
    plots,
    report_context,
    report_health,
    report_rul,
    report_sections,
)
from networkfed.monitoring.files import atomic_write_text
from networkfed.monitoring.html import image, page, section
from networkfed.monitoring.report_data import (
    COMPARED_METRICS,
    baseline_values,
    class_counts,
    predictions_of,
)
from networkfed.monitoring.run_folder import OVERALL, RunRecord, load_run, round_rows

__all__ = ["REPORT_FILE", "make_plots", "render_report", "write_report"]

logger = logging.getLogger(__name__)

REPORT_FILE, PLOTS_DIR = "report.html", "plots"


def write_report(run_dir: str | Path) -> Path:
    """Write ``plots/*.png`` and ``report.html`` into ``run_dir`` and return the report's path.

    Raises
    ------
    RunFolderError
        If ``metrics.jsonl`` or ``summary.json`` is missing or malformed (names the file).
    """
    run = load_run(run_dir)
    if report_rul.is_rul_run(run):
        figures = report_rul.make_rul_plots(run, run.run_dir / PLOTS_DIR)
        html = render_rul_report(run, figures)
    else:
        figures = make_plots(run, run.run_dir / PLOTS_DIR)
        html = render_report(run, figures)
    path = atomic_write_text(run.run_dir / REPORT_FILE, html)
    logger.info("wrote %s with %d plots", path, len(figures))
    return path


def render_report(run: RunRecord, figures: dict[str, Path]) -> str:
    """The report's HTML for ``run``, embedding the PNGs in ``figures`` (name -> path)."""
    counts = class_counts(run)
    body = "".join(
        [
            report_context.header(run, counts),
            report_health.health(run, counts),
            report_sections.headline(run, counts),
            report_sections.data_summary(run, counts),
            report_sections.per_site(run, counts),
            report_sections.per_round(run),
            report_sections.baselines(run),
            report_context.monitor(run),
            report_context.figures(run, figures),
            report_context.configuration(run),
            report_context.versions(run),
        ]
    )
    return page(f"NetworkFed report: {run.run_dir.name}", body)


def render_rul_report(run: RunRecord, figures: dict[str, Path]) -> str:
    """The report of a RUL run: the scores table and the RUL figures in place of the
    classification sections (alarms, thresholds and PR curves mean nothing there)."""
    images = "".join(image(path, report_rul.FIGURE_TEXT[name], report_rul.FIGURE_TEXT[name])
                     for name, path in figures.items())
    body = "".join([
        report_rul.report_scores(run),
        report_rul.report_references(run),
        section("Figures", images, "figures"),
        report_context.monitor(run),
        report_context.configuration(run),
        report_context.versions(run),
    ])
    return page(f"NetworkFed report: {run.run_dir.name}", body)


def make_plots(run: RunRecord, folder: Path) -> dict[str, Path]:
    """Write every figure the run's files allow; returns ``{name: png path}`` in page order."""
    written = {"metric_curves": _curves(run, folder / "metric_curves.png")}
    comparison = baseline_values(run)
    if comparison:
        for metric, label in COMPARED_METRICS.items():
            values = {
                group: {mode: found[metric] for mode, found in modes.items()}
                for group, modes in comparison.items()
            }
            written[f"baselines_{metric}"] = plots.plot_baseline_comparison(
                values, folder / f"baselines_{metric}.png", metric_label=label
            )
    federated = predictions_of(run, "federated")
    if federated is not None:
        written["confusion_matrix"] = plots.plot_confusion_matrix(
            federated["y_true"], federated["alarm"], folder / "confusion_matrix.png"
        )
        written["precision_recall"] = plots.plot_precision_recall(
            _pr_curves(run), folder / "precision_recall.png"
        )
    return written


def _curves(run: RunRecord, path: Path) -> Path:
    rows = run.metrics[(run.metrics["mode"] == "federated") & (run.metrics["split"] == "test")]
    rows = rows.sort_values("round").drop_duplicates(["round", "site"], keep="last")
    if rows.empty:  # a run that logged only validation metrics still gets its curves
        rows = round_rows(run.metrics, OVERALL, split="val")
    central = run.baselines.get("centralized")
    reference = central if isinstance(central, dict) else None
    return plots.plot_metric_curves(rows, path, reference=reference)


def _pr_curves(run: RunRecord) -> list[plots.PRCurve]:
    thresholds = {
        "federated": run.summary.get("final", {}).get("threshold"),
        "centralized": (run.baselines.get("centralized") or {}).get("threshold"),
        "local": None,  # one threshold per site: the marker comes from the alarms themselves
    }
    curves = []
    for mode, threshold in thresholds.items():
        rows = predictions_of(run, mode)
        if rows is None:
            continue
        curves.append(
            plots.PRCurve(
                label=plots.MODE_LABELS[mode],
                y_true=rows["y_true"].to_numpy(),
                probability=rows["probability"].to_numpy(dtype=np.float64),
                alarm=rows["alarm"].to_numpy(),
                threshold=threshold if isinstance(threshold, (int, float)) else None,
                color=plots.MODE_COLORS[mode],
            )
        )
    return curves
