"""MkDocs hooks: generated Markdown in the pages, and Sphinx roles in docstrings as links.

``<!-- generate: NAME -->`` markers become the CLI reference (from the Typer app), the module
map (from the package's docstrings) or a benchmark table (from ``benchmarks/results``); an
unknown marker fails the build. The package's docstrings cross-reference with Sphinx roles
(``:class:`~networkfed.data.DataConfig```), which mkdocstrings leaves as text: they become
cross-references that link where the target is documented, plain code elsewhere.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docgen.benchmarks import GENERATORS
from docgen.cli_reference import cli_reference_markdown
from docgen.module_map import module_map_markdown

MARKER = re.compile(r"<!--\s*generate:\s*([\w-]+)\s*-->")
ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([\w.]+)(\(\))?</code>")


def _cli_reference() -> str:
    from networkfed.cli.main import app

    return cli_reference_markdown(app)


def generators() -> dict[str, Callable[[], str]]:
    """Every marker name a page may use."""
    return {**GENERATORS, "cli-reference": _cli_reference, "module-map": module_map_markdown}


def on_page_markdown(markdown: str, page, **_: object) -> str:
    """Expand the page's markers; MkDocs calls this for every page."""
    known = generators()

    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in known:
            raise ValueError(f"{page.file.src_path}: unknown generated block {name!r}; "
                             f"known: {', '.join(sorted(known))}")
        return known[name]()

    return MARKER.sub(expand, markdown)


def _role(match: re.Match[str]) -> str:
    tilde, target, call = match.groups()
    title = (target.rsplit(".", 1)[-1] if tilde else target) + (call or "")
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


def on_page_content(html: str, **_: object) -> str:
    """Turn the Sphinx roles mkdocstrings rendered as text into optional cross-references."""
    return ROLE.sub(_role, html)
