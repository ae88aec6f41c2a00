"""``networkfed report RUN``: write a run folder's plots and self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from networkfed.cli.errors import handle_errors


@handle_errors
def report_command(
    run: Annotated[Path, typer.Argument(help="Run folder written by `networkfed simulate`.")],
) -> None:
    """Write RUN/plots/*.png and RUN/report.html (images embedded, so the file travels
    alone), then print the report's path."""
    from networkfed.monitoring.report import write_report  # matplotlib loads only when needed

    typer.echo(str(write_report(run)))
