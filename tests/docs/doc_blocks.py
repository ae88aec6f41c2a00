"""Read the code blocks of the README and the documentation pages, and check shell commands.

A shell command is checked against the program it calls without running it: ``networkfed``
and ``flwr`` lines are parsed by their own Typer apps (unknown commands or options, missing
arguments and values of the wrong type fail), ``flower-superlink`` / ``flower-supernode``
lines by Flower's own argument parsers, ``mkdocs`` lines by MkDocs' Click command; a script
(``bash scripts/...``, ``python benchmarks/...``) must exist and define every flag the line
passes (in its own source or a module beside it that it imports). Parsing is what keeps a
documented command in step with the command line; what the commands *do* is tested where
each command is tested, and by the runs in ``test_docs_readme``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import click
from typer.main import get_command

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHELL = ("bash", "sh", "shell", "console")
sys.path.insert(0, str(DOCS))  # docs/docgen: the site's generators, which the tests call too


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language and its text."""

    path: Path
    index: int  # 1-based among the page's blocks of the same language
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)} ({self.language} block {self.index})"


def blocks(path: Path, *languages: str) -> list[Block]:
    """The page's fenced blocks in ``languages`` (all when none are given), in page order."""
    found, counts = [], {}
    for match in FENCE.finditer(path.read_text(encoding="utf-8")):
        language = match.group(1)
        if languages and language not in languages:
            continue
        counts[language] = counts.get(language, 0) + 1
        found.append(Block(path, counts[language], language, match.group(2)))
    return found


def doc_pages() -> list[Path]:
    """Every Markdown page of the documentation site."""
    return sorted(DOCS.rglob("*.md"))


def section(path: Path, heading: str) -> str:
    """The text under ``heading`` (a whole line, e.g. ``"## Strategies"``) up to the next one
    of the same or a higher level."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n") if not text.startswith(f"{heading}\n") else 0
    rest = text[start + len(heading) + 1:]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.MULTILINE)]
    return rest[: ends[0]] if ends else rest


def commands(block: Block) -> list[list[str]]:
    """The block's commands as argument lists: continuations joined, comments dropped, ``&&``
    chains split."""
    text = block.code.replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            found.append(words[:cut])
            words = words[cut + 1:]
    return [words for words in found if words]


# --- checking one command -------------------------------------------------------------------


def parse_click(command: click.Command, prog: str, args: list[str]) -> click.Context:
    """Parse ``args`` the way ``prog`` would, down to the sub-command; nothing is invoked."""
    ctx = command.make_context(prog, list(args))
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            break
        name, command, rest = ctx.command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


@cache
def _networkfed() -> click.Command:
    from networkfed.cli.main import app

    return get_command(app)


@cache
def _flwr() -> click.Command:
    from flwr.cli.app import app

    return get_command(app)


@cache
def _argparse(program: str) -> argparse.ArgumentParser:
    if program == "flower-superlink":
        from flwr.superlink.cli.flower_superlink import _parse_args_run_superlink

        return _parse_args_run_superlink()
    from flwr.supernode.cli.flower_supernode import _parse_args_run_supernode

    return _parse_args_run_supernode()


SIBLING_IMPORT = re.compile(r"^(?:from|import)\s+(\w+)", re.MULTILINE)


def script_sources(script: Path) -> str:
    """The script's source and that of the modules beside it which it imports: two stages of
    one benchmark may share their command line (``quality_runs.command_line``), so an option
    counts as defined where the script's own code adds it."""
    source = script.read_text(encoding="utf-8")
    siblings = {script.parent / f"{name}.py" for name in SIBLING_IMPORT.findall(source)}
    return "\n".join([source, *(p.read_text(encoding="utf-8") for p in sorted(siblings)
                                 if p.is_file() and p != script)])


def _check_script(path: str, args: list[str]) -> None:
    script = ROOT / path
    assert script.is_file(), f"{path} does not exist"
    source = script_sources(script)
    for flag in (a.split("=", 1)[0] for a in args if a.startswith("--")):
        assert f'"{flag}"' in source, f"{path} defines no option {flag}"


def check_command(words: list[str]) -> str:
    """Check one command (see the module docstring); returns the program it called."""
    program, args = Path(words[0]).name, words[1:]
    if program == "networkfed":
        parse_click(_networkfed(), "networkfed", args)
    elif program == "flwr":
        parse_click(_flwr(), "flwr", args)
    elif program in ("flower-superlink", "flower-supernode"):
        _argparse(program).parse_args(args)
    elif program == "mkdocs":
        from mkdocs.__main__ import cli

        parse_click(cli, "mkdocs", args)
    elif program in ("bash", "python", "python3") and args:
        _check_script(args[0], args[1:])
    else:
        raise AssertionError(f"no check for the command {shlex.join(words)!r}: add one")
    return program
