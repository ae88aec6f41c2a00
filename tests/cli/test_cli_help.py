"""Every command's ``--help`` shows its help texts as written, and the defaults a run uses.

Typer renders help with Rich markup, where ``[data]`` or ``[default: ...]`` is a style tag
and vanishes: ``--config`` read "( table for data options)". This walks every command of the
app and compares the rendered help with the source strings.
"""

from __future__ import annotations

import re

import click
import pytest
import typer.main
from typer.testing import CliRunner

from networkfed.cli.main import app

runner = CliRunner()
BOX = re.compile(r"[│╭╮╰╯─]")


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    yield path, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands(typer.main.get_command(app)))  # type: ignore[arg-type]


def _flat(text: str) -> str:
    return " ".join(BOX.sub(" ", text).split())


def _rendered_help(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "2000"})
    assert result.exit_code == 0, result.output
    return _flat(result.output)


def _source_texts(command: click.Command) -> list[str]:
    """The help strings as written in the source (click keeps them; Typer escapes copies)."""
    callback = command.callback
    texts = [(callback.__doc__ or "") if callback else ""]
    texts += [getattr(param, "help", None) or "" for param in command.params]
    return [text.replace("\\[", "[") for text in texts if text]


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"simulate", "tune", "report", "history", "restore", "predict", "export", "models",
            "datasets", "datasets describe", "flower up", "flower certs"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "networkfed"
                                                            for p, _ in COMMANDS])
def test_no_help_text_loses_a_bracketed_word(path: tuple[str, ...], command) -> None:
    # Execute
    shown = _rendered_help(path)

    # Assert: every option's help whole, and every bracketed word anywhere
    for text in _source_texts(command):
        for bracketed in re.findall(r"\[[^\]]*\]", text):
            assert bracketed in shown, f"{' '.join(path)}: {bracketed!r} lost"
    for param in command.params:
        if getattr(param, "help", None):
            assert _flat(param.help.replace("\\[", "[")) in shown, param.name


def test_config_and_run_dir_help_read_as_written() -> None:
    shown = _rendered_help(("simulate",))
    assert "TOML file with any of these options ([data] table for data options)." in shown
    assert "Run folder [default: runs/<timestamp>-<model>-<strategy>]." in shown


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("simulate",), ["Federated rounds. [default: 10]", "[default: fedavg]",
                         "[default: synthetic]", "[default: auto]", "[default: 42]"]),
        (("datasets", "describe"), ["[default: synthetic]", "[default: natural]",
                                    "[default: cnn]", "[default: auto]"]),
        (("tune",), ["[default: 20]", "[default: natural]"]),
        (("flower", "up"), ["Federated rounds. [default: 10]", "[default: auto]"]),
    ],
)
def test_help_shows_the_defaults_a_run_uses(path: tuple[str, ...], expected: list[str]) -> None:
    shown = _rendered_help(path)
    for text in expected:
        assert text in shown
