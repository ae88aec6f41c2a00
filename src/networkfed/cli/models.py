"""``networkfed models``: the registered models, their tuned settings and their size."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from networkfed.cli.console import make_console
from networkfed.cli.errors import handle_errors

console = make_console()


def _table(entry: dict[str, Any]) -> Table:
    """One model: its default configuration beside its training configuration."""
    size = (f"{entry['parameters']:,} parameters" if entry["parameters"] is not None
            else "grows by its trees every round")
    title = (
        f"[bold]{entry['model']}[/] · {entry['class']} · {size} "
        f"(windows of {entry['sequence_length']} step(s))"
    )
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("default configuration", "value", "training configuration", "value"):
        table.add_column(column, style="cyan" if column != "value" else None)
    defaults = list(entry["default_config"].items())
    training = list(entry["training_config"].items())
    for row in range(max(len(defaults), len(training))):
        left = defaults[row] if row < len(defaults) else ("", "")
        right = training[row] if row < len(training) else ("", "")
        table.add_row(str(left[0]), str(left[1]), str(right[0]), str(right[1]))
    return table


@handle_errors
def models_command(
    input_dim: int = typer.Option(10, "--input-dim", help="Features per time step."),
    num_classes: int = typer.Option(2, "--num-classes", help="Output classes."),
    sequence_length: int | None = typer.Option(
        None, "--sequence-length", help="Window length (default: each model's own)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the models as JSON."),
) -> None:
    """List every registered model with its default and training configuration and its
    parameter count (for the given input shape)."""
    from networkfed.models.catalog import describe_models  # torch loads only when needed
    from networkfed.trees.params import describe_xgboost

    described = [*describe_models(input_dim, num_classes, sequence_length), describe_xgboost()]
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    for entry in described:
        console.print(_table(entry))
    console.print(
        f"parameter counts for input_dim={input_dim}, num_classes={num_classes}; the CNN "
        "flattens a window, so its size grows with --sequence-length",
        highlight=False,
    )
