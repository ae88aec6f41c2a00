"""Turn library errors into one clear line and the exit codes of SPEC §6."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from networkfed.core.errors import NetworkFedError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK, EXIT_USAGE, EXIT_DATA, EXIT_TRAINING = 0, 2, 3, 4

err_console = Console(stderr=True)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so a ``NetworkFedError`` prints one line and exits with its code.

    Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except NetworkFedError as error:
            # escaped: a message naming e.g. networkfed[mlflow] must not lose its brackets
            err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(code=error.exit_code) from None

    return wrapper
