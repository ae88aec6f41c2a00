"""The report's figures: metric curves, baseline comparison, confusion matrix, PR curve.

Each function takes plain data, writes one PNG atomically and returns its path. Figures are
built with :class:`matplotlib.figure.Figure` and rendered by the Agg canvas, never through
``pyplot``: no display is needed, no global figure state leaks between calls, and a report
can be written from any thread or a headless server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, precision_recall_curve

from networkfed.monitoring.files import atomic_path

__all__ = [
    "CURVE_METRICS",
    "MODE_COLORS",
    "MODE_LABELS",
    "PRCurve",
    "confusion_counts",
    "plot_baseline_comparison",
    "plot_confusion_matrix",
    "plot_metric_curves",
    "plot_precision_recall",
]

DPI = 110
MODE_COLORS = {"federated": "#1f77b4", "local": "#ff7f0e", "centralized": "#2ca02c"}
MODE_LABELS = {"federated": "federated", "local": "local-only", "centralized": "centralized"}
CURVE_METRICS = {
    "f1": "F1 (failure class)",
    "pr_auc": "PR-AUC",
    "balanced_accuracy": "Balanced accuracy",
    "loss": "Loss (cross-entropy)",
}
OVERALL = "overall"


@dataclass(frozen=True)
class PRCurve:
    """One model's test predictions for the precision-recall figure.

    ``alarm`` is what the model actually flagged (probability >= its threshold); the
    operating point is computed from it, so pooled local-only models with one threshold
    per site are marked correctly too.
    """

    label: str
    y_true: np.ndarray
    probability: np.ndarray
    alarm: np.ndarray
    threshold: float | None = None
    color: str | None = None


def plot_metric_curves(
    rounds: pd.DataFrame,
    path: str | Path,
    *,
    reference: Mapping[str, float] | None = None,
    title: str = "Federated global model on the test windows, per round",
) -> Path:
    """Plot F1, PR-AUC, balanced accuracy and loss per round, one line per site plus overall.

    Parameters
    ----------
    rounds
        Rows with columns ``round``, ``site`` and the metric names (``metrics.jsonl`` rows of
        one mode and split). ``site == "overall"`` is drawn thick and black.
    reference
        Optional metric -> value drawn as a dashed line (the centralized baseline, the upper
        bound federation is measured against).
    """
    figure = Figure(figsize=(11, 7.2), layout="constrained")
    axes = figure.subplots(2, 2, sharex=True).ravel()
    sites = [s for s in dict.fromkeys(rounds["site"]) if s != OVERALL]
    colors = _site_colors(sites)
    for axis, (metric, label) in zip(axes, CURVE_METRICS.items(), strict=True):
        for site in [*sites, OVERALL]:
            _plot_site_curve(axis, rounds[rounds["site"] == site], metric, site, colors)
        if reference and _finite(reference.get(metric)):
            axis.axhline(
                reference[metric],
                color=MODE_COLORS["centralized"],
                linestyle="--",
                linewidth=1.6,
                label="centralized baseline",
            )
        _style_curve_axis(axis, label, bounded=metric != "loss")
    for axis in axes[2:]:
        axis.set_xlabel("Round (0 = initial global model)")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="outside lower center", ncol=min(len(labels), 5), frameon=False
    )
    figure.suptitle(title, fontsize=14)
    return _save(figure, path)


def plot_baseline_comparison(
    values: Mapping[str, Mapping[str, float]],
    path: str | Path,
    *,
    metric_label: str = "F1 (failure class)",
    title: str | None = None,
) -> Path:
    """Grouped bars: one group per site (and overall), one bar per training mode.

    Parameters
    ----------
    values
        ``{group: {mode: value}}`` where mode is ``federated``, ``local`` or ``centralized``;
        a missing or NaN value leaves a gap labelled "n/a" so absence is not read as zero.
    """
    groups = list(values)
    modes = [m for m in MODE_COLORS if any(m in values[g] for g in groups)]
    figure = Figure(figsize=(max(7.5, 1.9 * len(groups) + 2.5), 4.8), layout="constrained")
    axis = figure.subplots()
    width = 0.8 / max(len(modes), 1)
    for index, mode in enumerate(modes):
        offsets = np.arange(len(groups)) + (index - (len(modes) - 1) / 2) * width
        heights = [values[g].get(mode, math.nan) for g in groups]
        _draw_bars(axis, offsets, heights, width, mode)
    axis.set_xticks(np.arange(len(groups)), [g.replace("_", " ") for g in groups])
    axis.set_ylabel(metric_label)
    axis.set_ylim(0, 1.12)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(loc="upper left", ncol=len(modes), frameon=False)
    axis.set_title(title or f"{metric_label} on each site's test windows, by training mode")
    return _save(figure, path)


def plot_confusion_matrix(
    y_true: Sequence[int] | np.ndarray,
    alarm: Sequence[int] | np.ndarray,
    path: str | Path,
    *,
    title: str = "Final global model: confusion matrix on the test windows",
) -> Path:
    """A 2x2 confusion matrix with counts and the share of each actual class."""
    counts = confusion_counts(y_true, alarm)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure = Figure(figsize=(6.4, 5.4), layout="constrained")
    axis = figure.subplots()
    image = axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for (row, column), count in np.ndenumerate(counts):
        color = "white" if shares[row, column] > 0.55 else "black"
        axis.text(
            column,
            row,
            f"{count:,}\n({shares[row, column]:.1%} of actual)",
            ha="center",
            va="center",
            color=color,
            fontsize=12,
        )
    names = ["no failure", "failure"]
    axis.set_xticks(
        [0, 1], [f"{n}\n(no alarm)" if i == 0 else f"{n}\n(alarm)" for i, n in enumerate(names)]
    )
    axis.set_yticks([0, 1], names)
    axis.set_xlabel("Predicted")
    axis.set_ylabel("Actual")
    figure.colorbar(image, ax=axis, label="Share of the actual class", shrink=0.85)
    axis.set_title(title, fontsize=12)
    return _save(figure, path)


def confusion_counts(
    y_true: Sequence[int] | np.ndarray, alarm: Sequence[int] | np.ndarray
) -> np.ndarray:
    """``[[true negatives, false alarms], [missed failures, caught failures]]`` as counts."""
    truth, predicted = np.asarray(y_true, dtype=int), np.asarray(alarm, dtype=int)
    return np.array(
        [[int(np.sum((truth == a) & (predicted == p))) for p in (0, 1)] for a in (0, 1)]
    )


def plot_precision_recall(
    curves: Sequence[PRCurve],
    path: str | Path,
    *,
    title: str = "Precision-recall on the test windows (failure class)",
) -> Path:
    """Precision-recall curves with each model's operating point (its alarm threshold) marked.

    The dotted horizontal line is the failure rate: the precision of raising an alarm on
    every window, the floor any useful model must clear.
    """
    figure = Figure(figsize=(7.8, 7.2), layout="constrained")
    axis = figure.subplots()
    for index, curve in enumerate(curves):  # the first curve (federated) is drawn on top
        _draw_pr_curve(axis, curve, curve.color or f"C{index}", zorder=3 + len(curves) - index)
    if curves:
        rate = float(np.mean(curves[0].y_true))
        axis.axhline(rate, color="grey", linestyle=":", label=f"failure rate ({rate:.1%})")
    axis.set_xlim(0, 1.01)
    axis.set_ylim(0, 1.04)
    axis.set_xlabel("Recall (share of failures caught)")
    axis.set_ylabel("Precision (share of alarms that were failures)")
    axis.grid(alpha=0.3)
    figure.legend(loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    axis.set_title(title, fontsize=12)
    return _save(figure, path)


def _draw_pr_curve(axis: Axes, curve: PRCurve, color: str, zorder: int) -> None:
    truth = np.asarray(curve.y_true, dtype=int)
    if truth.sum() == 0 or truth.sum() == len(truth):
        axis.plot([], [], color=color, label=f"{curve.label}: undefined (one class only)")
        return
    precision, recall, _ = precision_recall_curve(truth, curve.probability)
    average = average_precision_score(truth, curve.probability)
    axis.step(
        recall,
        precision,
        where="post",
        color=color,
        linewidth=1.8,
        zorder=zorder,
        label=f"{curve.label} (AP {average:.3f})",
    )
    alarm = np.asarray(curve.alarm, dtype=int)
    caught = int(np.sum(alarm & truth))
    point_recall = caught / truth.sum()
    point_precision = caught / alarm.sum() if alarm.sum() else 1.0
    shown = f"threshold {curve.threshold:.3f}" if _finite(curve.threshold) else "alarm point"
    axis.plot(
        point_recall,
        point_precision,
        marker="o",
        markersize=9,
        color=color,
        markeredgecolor="black",
        linestyle="none",
        zorder=zorder + 10,
        label=f"{curve.label} {shown}: P {point_precision:.2f}, R {point_recall:.2f}",
    )


def _plot_site_curve(
    axis: Axes, rows: pd.DataFrame, metric: str, site: str, colors: dict[str, str]
) -> None:
    if rows.empty or metric not in rows:
        return
    rows = rows.sort_values("round")
    if site == OVERALL:
        axis.plot(
            rows["round"],
            rows[metric],
            color="black",
            linewidth=2.6,
            marker="o",
            label="overall (all sites)",
            zorder=3,
        )
    else:
        axis.plot(
            rows["round"],
            rows[metric],
            color=colors[site],
            linewidth=1.4,
            marker=".",
            alpha=0.85,
            label=site.replace("_", " "),
        )


def _style_curve_axis(axis: Axes, label: str, *, bounded: bool) -> None:
    axis.set_title(label, fontsize=12)
    axis.set_ylabel(label)
    axis.grid(alpha=0.3)
    axis.xaxis.get_major_locator().set_params(integer=True)
    if bounded:
        axis.set_ylim(-0.02, 1.02)


def _draw_bars(
    axis: Axes, offsets: np.ndarray, heights: list[float], width: float, mode: str
) -> None:
    drawn = [h if _finite(h) else 0.0 for h in heights]
    bars = axis.bar(offsets, drawn, width * 0.95, color=MODE_COLORS[mode], label=MODE_LABELS[mode])
    texts = [f"{h:.2f}" if _finite(h) else "n/a" for h in heights]
    axis.bar_label(bars, texts, padding=2, fontsize=9)


def _site_colors(sites: list[str]) -> dict[str, str]:
    palette = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#d62728"]
    return {site: palette[index % len(palette)] for index, site in enumerate(sites)}


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _save(figure: Figure, path: str | Path) -> Path:
    """Render with Agg and write the PNG atomically."""
    FigureCanvasAgg(figure)
    with atomic_path(path) as temp, temp.open("wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI)
    return Path(path)
