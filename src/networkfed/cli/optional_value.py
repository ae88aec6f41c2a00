"""Options whose value may be left out: ``--mlflow`` alone, or ``--mlflow URI``.

Click supports this (an option that "needs a flag value" takes the next word as its value
unless it is missing or looks like another option, and otherwise a default), but Typer
neither passes ``flag_value`` on nor exposes the option class. Its command class is the
supported way in: :func:`optional_values` makes one (a :class:`~networkfed.cli.typer_app.Command`,
so help still reads as written) that switches the behaviour on for the named options once
Typer has built them. It sets Click's ``flag_value`` and the parser hint
``_flag_needs_value`` (Click 8.x); the tests run ``--mlflow`` both ways, so a Click that
changes this fails them rather than a user's run.
"""

from __future__ import annotations

from typing import Any

import click

from networkfed.cli.typer_app import Command

__all__ = ["optional_values"]


def optional_values(**defaults: str) -> type[Command]:
    """A Typer command class where option ``name`` given alone means ``defaults[name]``."""

    class OptionalValueCommand(Command):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for param in self.params:
                if isinstance(param, click.Option) and param.name in defaults:
                    param.flag_value = defaults[param.name]
                    param._flag_needs_value = True

    return OptionalValueCommand
