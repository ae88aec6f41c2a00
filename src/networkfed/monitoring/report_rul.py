"""The report of a RUL run (``task = "rul"``): scores per site, scatter, errors, RMSE per round.

A RUL run's ``metrics.jsonl`` holds RMSE, MAE, the NASA score and the share within +-10
cycles (:mod:`networkfed.federated.regression`) instead of the classification metrics, and its
``predictions.csv`` holds ``rul_true`` / ``rul_predicted`` per test window (for C-MAPSS:
each official test engine's last window). These figures are what the C-MAPSS literature shows:
predicted against true remaining life, the error distribution (late predictions, right of 0,
are the costly ones) and the RMSE per round.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from networkfed.monitoring.files import atomic_path
from networkfed.monitoring.html import fmt, note, section, table
from networkfed.monitoring.plots import DPI, MODE_COLORS, MODE_LABELS
from networkfed.monitoring.report_health import findings_list
from networkfed.monitoring.run_folder import OVERALL, RunRecord

__all__ = ["FIGURE_TEXT", "is_rul_run", "make_rul_plots", "report_references", "report_scores"]

FIGURE_TEXT = {
    "rul_scatter": "Predicted against true remaining life of every test window of the final "
    "federated model (C-MAPSS: each test engine's last window); the diagonal is perfect.",
    "rul_errors": "Prediction error (predicted - true cycles) per model; right of 0 = late "
    "predictions, which the NASA score punishes harder.",
    "rul_rounds": "Test RMSE per round, per site and overall (dashed: overall validation RMSE, "
    "which picks the best round).",
}
SCORES = {"rmse": "RMSE", "nasa_score": "NASA score", "mae": "MAE",
          "within_10": "within ±10", "num_examples": "windows"}


def is_rul_run(run: RunRecord) -> bool:
    """A RUL run logs RMSE where a classification run logs PR-AUC."""
    return "rmse" in run.metrics.columns


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    with atomic_path(path) as temp, temp.open("wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI)
    return path


def _predictions(run: RunRecord, mode: str) -> pd.DataFrame | None:
    frame = run.predictions
    if frame is None or "rul_true" not in frame.columns:
        return None
    rows = frame[frame["mode"] == mode]
    return None if rows.empty else rows


def make_rul_plots(run: RunRecord, folder: Path) -> dict[str, Path]:
    """The RUL figures the run's files allow, ``{name: png path}`` in page order."""
    written = {"rul_rounds": _rounds_plot(run, folder / "rul_rounds.png")}
    federated = _predictions(run, "federated")
    if federated is not None:
        written["rul_scatter"] = _scatter(federated, folder / "rul_scatter.png")
        written["rul_errors"] = _errors(run, folder / "rul_errors.png")
    return written


def _scatter(rows: pd.DataFrame, path: Path) -> Path:
    figure = Figure(figsize=(6.4, 6), layout="constrained")
    axis = figure.subplots()
    for site, found in rows.groupby("site", sort=True):
        axis.scatter(found["rul_true"], found["rul_predicted"], s=14, alpha=0.7, label=site)
    top = float(max(rows["rul_true"].max(), rows["rul_predicted"].max(), 1.0)) * 1.05
    axis.plot([0, top], [0, top], color="black", linewidth=1, label="perfect")
    axis.set(xlim=(0, top), ylim=(0, top), xlabel="True remaining life (cycles)",
             ylabel="Predicted remaining life (cycles)")
    axis.legend(frameon=False, fontsize=8)
    figure.suptitle("Final federated model: predicted vs true RUL")
    return _save(figure, path)


def _errors(run: RunRecord, path: Path) -> Path:
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axis = figure.subplots()
    found = {mode: _predictions(run, mode) for mode in ("federated", "centralized", "local")}
    errors = {m: (r["rul_predicted"] - r["rul_true"]).to_numpy() for m, r in found.items()
              if r is not None}
    spread = max(float(np.abs(e).max()) for e in errors.values()) if errors else 1.0
    bins = np.linspace(-spread, spread, 31)
    for mode, error in errors.items():
        axis.hist(error, bins=bins, histtype="step", linewidth=1.8, color=MODE_COLORS[mode],
                  label=f"{MODE_LABELS[mode]} (mean {error.mean():+.1f})")
    axis.axvline(0, color="black", linewidth=1)
    axis.set(xlabel="Predicted - true remaining life (cycles)", ylabel="Test windows")
    axis.legend(frameon=False)
    return _save(figure, path)


def _rounds_plot(run: RunRecord, path: Path) -> Path:
    metrics = run.metrics[run.metrics["mode"] == "federated"]
    figure = Figure(figsize=(8, 4.8), layout="constrained")
    axis = figure.subplots()
    test = metrics[metrics["split"] == "test"].sort_values("round")
    for site, rows in test.groupby("site", sort=True):
        rows = rows.drop_duplicates("round", keep="last")
        wide = site == OVERALL
        axis.plot(rows["round"], rows["rmse"], marker="o", markersize=3, label=site,
                  color="black" if wide else None, linewidth=2.6 if wide else 1.2)
    val = metrics[(metrics["split"] == "val") & (metrics["site"] == OVERALL)]
    if not val.empty:
        val = val.sort_values("round").drop_duplicates("round", keep="last")
        axis.plot(val["round"], val["rmse"], linestyle="--", color="black",
                  label="overall validation")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set(xlabel="Round (0 = initial global model)", ylabel="RMSE (cycles)")
    axis.legend(frameon=False, fontsize=8, ncol=2)
    figure.suptitle("Federated global model: RMSE per round")
    return _save(figure, path)


def report_scores(run: RunRecord) -> str:
    """The final federated and baseline scores per site and overall, one table."""
    per_site = run.summary.get("per_site", {})
    found = {site: m for site, m in per_site.items() if isinstance(m, dict)}
    if isinstance(run.summary.get("final"), dict):
        found[OVERALL] = run.summary["final"]
    rows = [("federated", site, *(fmt(m.get(k)) for k in SCORES)) for site, m in found.items()]
    for mode in ("centralized", "local"):
        baseline = run.baselines.get(mode)
        if isinstance(baseline, dict):
            rows.append((MODE_LABELS[mode], OVERALL, *(fmt(baseline.get(k)) for k in SCORES)))
    if not rows:
        return section("Remaining useful life", note("summary.json records no scores."), "rul")
    summary = run.summary
    intro = note(
        f"Run folder {run.run_dir.name}: {summary.get('status', '?')}, "
        f"{summary.get('rounds_completed', '?')} rounds, best round by validation RMSE "
        f"{summary.get('best_round', '?')}. Test scores of the final global model; C-MAPSS "
        "scores each official test engine's last window against RUL_FD00x.txt.")
    body = intro + table(["Model", "Site", *SCORES.values()], rows, numeric_from=2)
    return section("Remaining useful life", body, "rul")


def report_references(run: RunRecord) -> str:
    """The health check of a RUL run: its findings, then the model's RMSE and NASA score next
    to those of the two constants a planner needs no model for (the training mean, the cap;
    :func:`networkfed.federated.references.rul_references`), per site and overall."""
    saved = run.summary.get("references") or {}
    final = {**(run.summary.get("per_site") or {}), OVERALL: run.summary.get("final") or {}}
    rows = []
    for site, metrics in final.items():
        ref = saved.get("overall") if site == OVERALL else (saved.get("per_site") or {}).get(site)
        ref = ref if isinstance(ref, dict) else {}
        rows.append([site, fmt(metrics.get("rmse")), fmt(ref.get("mean_rmse")),
                     fmt(ref.get("cap_rmse")), fmt(metrics.get("nasa_score")),
                     fmt(ref.get("mean_nasa_score")), fmt(ref.get("cap_nasa_score"))])
    overall = saved.get("overall") if isinstance(saved.get("overall"), dict) else {}
    headers = ["Site", "RMSE", "RMSE of the mean", "RMSE of the cap", "NASA score",
               "NASA of the mean", "NASA of the cap"]
    text = note(
        "A model that knows nothing predicts one number for every engine: the training "
        f"windows' mean remaining life ({fmt(overall.get('train_mean'))} cycles) or the cap "
        f"({fmt(overall.get('cap'))}). The model is worth using only well below both.")
    body = findings_list(run.summary.get("findings")) + table(
        headers, rows, highlight=[len(rows) - 1], numeric_from=1) + text
    return section("Health check: findings and trivial references", body, "health")
