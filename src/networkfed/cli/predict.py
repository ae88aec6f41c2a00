"""``networkfed predict``: failure probability and alarm per row (window) of a new file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from networkfed.cli.console import make_console
from networkfed.cli.errors import handle_errors
from networkfed.core.errors import ConfigError

console = make_console()
SHOWN_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc",
                 "rmse", "mae", "nasa_score", "within_10")


def default_output_path(data: Path) -> Path:
    """``plant.csv`` -> ``plant.predictions.csv`` in the current folder (data may be read-only)."""
    return Path.cwd() / f"{data.stem}.predictions.csv"


def _summary_table(summary: dict) -> Table:
    table = Table(title=f"predictions (round {summary['round']})", title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("rows (windows)", f"{summary['rows']:,}")
    table.add_row("alarms", f"{summary['alarms']:,}")
    table.add_row("alarm rate", f"{summary['alarm_rate']:.2%}")
    table.add_row("threshold", f"{summary['threshold']:.4g}")
    for key in SHOWN_METRICS if summary["metrics"] else ():
        if key not in summary["metrics"]:
            continue
        value = summary["metrics"][key]
        table.add_row(key, "n/a" if math.isnan(value) else f"{value:.4f}")
    return table


def _without_nan(value: object) -> object:
    """NaN -> null, so ``--json`` output is strict JSON."""
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _export_test_rows(run: Path, out_dir: Path, as_json: bool, quiet: bool) -> None:
    from networkfed.serving.test_rows import write_test_rows

    written = write_test_rows(run, out_dir)
    if as_json:
        typer.echo(json.dumps({site: str(path) for site, path in written.items()}))
    elif not quiet:
        for site, path in written.items():
            console.print(f"{site}: {path}", highlight=False)


@handle_errors
def predict_command(
    run: Path = typer.Option(..., "--run", help="Run folder written by `networkfed simulate`."),
    data: Path | None = typer.Option(None, "--data", help="CSV (or data file) to predict on."),
    round_num: int | None = typer.Option(
        None, "--round", help="Round whose global model predicts (default: the latest)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Predictions CSV (default: ./<data name>.predictions.csv)."
    ),
    export_test_rows: Path | None = typer.Option(
        None, "--export-test-rows", metavar="DIR",
        help="Instead of predicting: write the run's test rows, one DIR/<site>.csv per site "
        "(ai4i2020 and csv runs), to check that predict reproduces the run's test metrics.",
    ),
    site: str | None = typer.Option(
        None, "--site",
        help="The site the file comes from; required after a run with normalization=\"site\" "
        "(each site standardised with its own statistics); after a FedBN / FedPer run it selects "
        "that site's own layers.",
    ),
    horizon: int | None = typer.Option(
        None, "--horizon", min=0,
        help="RUL runs: alarm when the predicted remaining life is at most this many cycles "
        "(default: the run's horizon).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
) -> None:
    """Predict failures on a new file, prepared exactly like the run's training data.

    Writes every window's failure probability and alarm flag (probability >= the threshold
    chosen on validation data) next to the row it ends on; with a label column in the file,
    also prints the metrics. After a RUL run (--task rul): each window's predicted remaining
    life (rul_predicted) and an alarm when it is at most --horizon cycles.
    """
    if export_test_rows is not None:
        _export_test_rows(run, export_test_rows, as_json, quiet)
        return
    if data is None:
        raise ConfigError("--data", None, "a file to predict on (--data FILE)")
    from networkfed.serving.checkpoint import load_served_model
    from networkfed.serving.predict import predict_file, write_predictions

    served = load_served_model(run, round_num, site)
    prediction = predict_file(served, data, site_id=site, horizon=horizon)
    target = write_predictions(prediction, out or default_output_path(data))
    summary = {**prediction.summary(), "out": str(target)}
    if as_json:
        typer.echo(json.dumps(_without_nan(summary)))
    elif not quiet:
        console.print(_summary_table(summary))
        console.print(f"predictions: {target}", highlight=False)
