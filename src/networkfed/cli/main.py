"""Entry point of the ``networkfed`` command: the Typer app and its sub-commands.

Each command lives in its own module under ``networkfed.cli`` and is registered here.
"""

from __future__ import annotations

import typer

from networkfed import __version__
from networkfed.cli.datasets import datasets_app
from networkfed.cli.export import export_command
from networkfed.cli.flower import flower_app
from networkfed.cli.history import history_command, restore_command
from networkfed.cli.models import models_command
from networkfed.cli.optional_value import optional_values
from networkfed.cli.predict import predict_command
from networkfed.cli.report import report_command
from networkfed.cli.simulate import DEFAULT_MLFLOW_STORE, simulate_command
from networkfed.cli.tune import tune_command
from networkfed.cli.typer_app import App

app = App(
    name="networkfed",
    help="Federated predictive maintenance: train failure predictors across factory sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"networkfed {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Federated predictive maintenance: train failure predictors across factory sites."""


# --- commands (one module each; keep this list sorted by journey) ---------------------------
app.command("simulate", cls=optional_values(mlflow=DEFAULT_MLFLOW_STORE))(simulate_command)
app.command("models")(models_command)
app.command("report")(report_command)
app.command("history")(history_command)
app.command("restore")(restore_command)
app.add_typer(datasets_app, name="datasets")
app.command("tune", cls=optional_values(mlflow=DEFAULT_MLFLOW_STORE))(tune_command)
app.command("predict")(predict_command)
app.command("export")(export_command)
app.add_typer(flower_app, name="flower")
