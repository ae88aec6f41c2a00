"""The documentation site: a strict build, a complete CLI reference, a nav that lists every page,
generated tables that come from the results files, and a troubleshooting page that covers
every exit code, error and monitor finding."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from doc_blocks import DOCS, ROOT

from docgen.benchmarks import PENDING  # a quality block before its benchmark has run
from docgen.cli_reference import cli_reference_markdown, command_paths
from networkfed.cli.main import app
from networkfed.core import errors
from networkfed.monitoring.monitor import ISSUE_TEXT

EXIT_CODES = (0, 2, 3, 4, 130)


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages(entries: object) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, list):
        return [page for entry in entries for page in _nav_pages(entry)]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in _nav_pages(value)]
    return []


def _mkdocs_config() -> dict:
    class Loader(yaml.SafeLoader):  # mkdocs.yml may use MkDocs' own !tags; none matter here
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


def test_cli_reference_has_every_command_and_option() -> None:
    # Prepare
    from typer.main import get_command

    page = cli_reference_markdown(app)
    headings = re.findall(r"^#+ `(networkfed[^`]*)`$", page, re.MULTILINE)

    # Assert: every command and sub-command, in the app's order, with every option
    assert headings == command_paths(app)
    assert {"networkfed datasets describe", "networkfed flower up",
            "networkfed flower certs"} <= set(headings)
    root = get_command(app)
    for name, command in root.commands.items():
        subcommands = getattr(command, "commands", {"": command})
        for sub in subcommands.values():
            for param in sub.params:
                for option in param.opts:
                    assert option in page, f"{name} {sub.name}: {option}"


def test_nav_lists_every_page_once() -> None:
    nav = _nav_pages(_mkdocs_config()["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages


def test_every_generated_block_is_known_and_generates_a_table() -> None:
    known = _hooks().generators()
    used = {name for page in DOCS.rglob("*.md")
            for name in re.findall(r"<!--\s*generate:\s*([\w-]+)\s*-->", page.read_text())}
    assert used <= set(known)
    assert used == set(known), f"generators no page uses: {set(known) - used}"
    for name in used:
        text = known[name]()
        assert "|---" in text or text in PENDING, name


def test_troubleshooting_covers_every_exit_code_error_and_finding() -> None:
    page = (DOCS / "user-guide" / "troubleshooting.md").read_text(encoding="utf-8")
    table = page.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in EXIT_CODES:
        assert f"\n| {code} |" in table, code
    pending = [errors.NetworkFedError]
    while pending:
        error = pending.pop()
        pending += error.__subclasses__()
        if error is not errors.NetworkFedError:
            assert f"`{error.__name__}`" in page, error.__name__
            row = next(line for line in table.splitlines() if f"`{error.__name__}`" in line)
            assert row.startswith(f"| {error.exit_code} |"), error.__name__
    for finding in ISSUE_TEXT:
        assert f"| `{finding}` |" in page, finding


@pytest.mark.slow
def test_site_builds_strictly_with_the_generated_pages(tmp_path: Path) -> None:
    # Execute: what a documentation release runs (warnings fail the build)
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})

    # Assert
    assert result.returncode == 0, result.stderr[-3000:]
    cli = (tmp_path / "reference/cli/index.html").read_text(encoding="utf-8")
    for path in command_paths(app):
        assert f"<code>{path}</code>" in cli, path
    assert "generate:" not in (tmp_path / "benchmarks/quality/index.html").read_text()
    api = (tmp_path / "reference/api/models/index.html").read_text(encoding="utf-8")
    assert "ModelFactory" in api and "create_model" in api
