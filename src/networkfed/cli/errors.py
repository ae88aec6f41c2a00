"""Turn library errors into one clear line and the exit codes of SPEC §6."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.markup import escape

from networkfed.cli.console import make_console
from networkfed.core.errors import NetworkFedError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK, EXIT_USAGE, EXIT_DATA, EXIT_TRAINING = 0, 2, 3, 4

err_console = make_console(stderr=True)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so a ``NetworkFedError`` prints one line and exits with its code.

    The message is printed as written, on one line (no leading blank line, no bracketed word
    read as Rich markup). Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except NetworkFedError as error:
            message = escape(" ".join(str(error).split()))  # one line; "[data]" kept
            err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=error.exit_code) from None

    return wrapper


class WarningLine(logging.Handler):
    """Library warnings (a leaking split, sites without failures) as one yellow line each."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(f"[yellow]warning:[/] {escape(record.getMessage())}", highlight=False,
                          soft_wrap=True)


def show_warnings() -> None:
    """Print the library's warnings on stderr (once, however often it is called)."""
    library = logging.getLogger("networkfed")
    if not any(isinstance(handler, WarningLine) for handler in library.handlers):
        library.addHandler(WarningLine(level=logging.WARNING))
