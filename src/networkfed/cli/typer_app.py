"""The Typer classes every ``networkfed`` command is built with: help that reads as written.

Typer renders help with Rich markup, so a help text's ``[data]`` or ``[default: ...]`` was
read as a style tag and vanished ("( table for data options)"). :class:`Command` and
:class:`Group` escape every help text once, when Typer builds the click command, so no help
string needs escaping by hand. :class:`Command` also shows the default an option really gets
when its flag default is ``None`` ("not given": a TOML file may still set it), read from
``RunConfig`` / ``DataConfig`` by the option's name, so ``--help`` and a run agree.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

__all__ = ["App", "Command", "Group", "config_default"]

NOT_SHOWN = frozenset({"sequence_length"})
"""Options whose default depends on another option (the model's own window)."""


def config_default(name: str) -> str | None:
    """The default of the ``RunConfig`` or ``DataConfig`` field ``name``, as help shows it
    (``None`` when there is no such field or it defaults to nothing)."""
    from networkfed.data.config import DataConfig
    from networkfed.federated.config import RunConfig

    for model in (RunConfig, DataConfig):
        field = model.model_fields.get(name)
        if field is None or name in NOT_SHOWN or name == "data":
            continue
        value = field.get_default(call_default_factory=True)
        if value is None or value == {} or isinstance(value, bool):
            return None  # booleans are flags: the flag's name says it
        if isinstance(value, tuple):
            return ",".join(map(str, value))
        return str(getattr(value, "value", value))
    return None


def _escape_help(item: Any) -> None:
    for attribute in ("help", "short_help"):
        text = getattr(item, attribute, None)
        if text:
            setattr(item, attribute, escape(text))


class Command(TyperCommand):
    """A command whose help texts are shown verbatim, with the run's defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _escape_help(self)
        for param in self.params:
            _escape_help(param)
            if isinstance(param, click.Option) and param.default is None and param.name:
                shown = config_default(param.name)
                if shown is not None and param.help is not None:
                    param.help = f"{param.help} \\[default: {escape(shown)}]"


class Group(TyperGroup):
    """A command group whose help text is shown verbatim."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _escape_help(self)


class App(typer.Typer):
    """``typer.Typer`` building :class:`Group` and :class:`Command` unless told otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)
