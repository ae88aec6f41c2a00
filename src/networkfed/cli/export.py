"""``networkfed export``: a run's global model as ONNX or TorchScript for use at the edge."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from networkfed.cli.console import make_console
from networkfed.cli.errors import handle_errors
from networkfed.serving.checkpoint import load_served_model
from networkfed.serving.export import PARITY_TOLERANCE, export_model, parse_format
from networkfed.trees.serving import parse_tree_format

console = make_console()
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt", "json": ".json"}


def default_export_path(
    run_dir: Path, round_num: int, export_format: str, site_id: str | None = None
) -> Path:
    """``RUN/exports/global_round_0005.onnx`` (``.pt`` for TorchScript; ``site_<NAME>_...``
    for one site's model of a FedBN / FedPer run)."""
    stem = "global" if site_id is None else f"site_{site_id}"
    return run_dir / "exports" / f"{stem}_round_{round_num:04d}{SUFFIXES[export_format]}"


@handle_errors
def export_command(
    run: Path = typer.Option(..., "--run", help="Run folder written by `networkfed simulate`."),
    round_num: int | None = typer.Option(
        None, "--round", help="Round to export (default: the latest saved round)."
    ),
    export_format: str = typer.Option(
        "onnx", "--format", help="onnx (onnxruntime, any platform) or torchscript (libtorch); "
        "for an xgboost run onnx or json (XGBoost's native booster)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Model file to write (default: RUN/exports/global_round_NNNN.onnx)."
    ),
    site: str | None = typer.Option(
        None, "--site", help="After a FedBN / FedPer run: export that site's model (its own "
        "layers) instead of the one with the averaged layers."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
) -> None:
    """Export a round's global model; its outputs are failure probabilities.

    The input is float32 windows (batch, sequence_length, features), standardised as written
    in FILE.preprocessing.json beside the model (with the alarm threshold). The export is
    checked against PyTorch before this command succeeds.
    """
    served = load_served_model(run, round_num, site)
    tree = getattr(served, "is_tree", False)  # xgboost: onnx or json, checked by export_model
    chosen = parse_tree_format(export_format) if tree else parse_format(export_format)
    target = out or default_export_path(run, served.round_num, chosen, site)
    result = export_model(served, target, chosen)
    if as_json:
        typer.echo(json.dumps({
            "path": str(result.path),
            "preprocessing": str(result.preprocessing_path),
            "format": result.export_format,
            "exporter": result.exporter,
            "round": served.round_num,
            "site": site,
            "max_abs_difference": result.max_abs_difference,
            "threshold": served.threshold,
        }))
    elif not quiet:
        console.print(
            f"exported round {served.round_num} of {run} ({served.model_type.value}"
            f"{f', site {site}' if site else ''}) to "
            f"[bold]{result.path}[/] ({result.export_format}, {result.exporter})\n"
            f"preprocessing and alarm threshold {served.threshold:.4g}: "
            f"{result.preprocessing_path}\n"
            f"parity with {'XGBoost' if tree else 'PyTorch'}: max |difference| "
            f"{result.max_abs_difference:.2e} "
            f"(<= {PARITY_TOLERANCE:g})",
            highlight=False,
        )
