"""Entry point of the ``networkfed`` command: the Typer app and its sub-commands.

Each command lives in its own module under ``networkfed.cli`` and is registered here.
"""

from __future__ import annotations

import typer

from networkfed import __version__

app = typer.Typer(
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
