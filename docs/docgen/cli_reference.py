"""The CLI reference, generated from the Typer app itself (every command and sub-command).

Walks the Click command tree Typer builds (:func:`typer.main.get_command`) and writes, per
command, its help text, its usage line and a table of its arguments and options with the
very help records ``--help`` prints, so the page cannot drift from the command line.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
import typer
from typer.main import get_command

__all__ = ["cli_reference_markdown", "command_paths"]


def _walk(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """Every command under ``command``, depth first, in the order the app registers them."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, click.Context(sub, info_name=name, parent=ctx))


def _root(app: typer.Typer, name: str) -> tuple[click.Command, click.Context]:
    command = get_command(app)
    return command, click.Context(command, info_name=name)


def command_paths(app: typer.Typer, name: str = "networkfed") -> list[str]:
    """``["networkfed", "networkfed simulate", ..., "networkfed flower up"]``."""
    return [ctx.command_path for _, ctx in _walk(*_root(app, name))]


def _cell(text: str) -> str:
    """Help text as one Markdown table cell, every bracket escaped for Markdown.

    Click writes ranges right after the default (``[default: 30][x>=0]``), which Markdown
    would read as a reference link; Rich's own escapes (``\\[``) are undone first.
    """
    text = " ".join(text.replace("\\[", "[").split())
    return text.replace("[", "\\[").replace("|", "\\|")


def _params_table(command: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:  # a plain Click argument has no help record of its own
            record = (param.human_readable_name, "")
        kind = "argument" if isinstance(param, click.Argument) else "option"
        rows.append(f"| `{_cell(record[0])}` | {kind} | {_cell(record[1])} |")
    if not rows:
        return []
    return ["| name | kind | description |", "|---|---|---|", *rows, ""]


def _section(command: click.Command, ctx: click.Context, depth: int) -> list[str]:
    heading = "#" * min(depth + 1, 6)
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines = [f"{heading} `{ctx.command_path}`", ""]
    if command.help:
        lines += [_cell(paragraph) + "\n" for paragraph in command.help.split("\n\n")]
    lines += ["```text", usage, "```", ""]
    lines += _params_table(command, ctx)
    if isinstance(command, click.Group):
        subcommands = command.list_commands(ctx)
        lines += ["Commands: " + ", ".join(f"`{name}`" for name in subcommands) + ".", ""]
    return lines


def cli_reference_markdown(app: typer.Typer, name: str = "networkfed") -> str:
    """The whole reference as Markdown: one section per command, nested by sub-command."""
    lines: list[str] = []
    for command, ctx in _walk(*_root(app, name)):
        depth = ctx.command_path.count(" ") + 1
        lines += _section(command, ctx, depth)
    return "\n".join(lines)
