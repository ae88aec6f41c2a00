"""The module map of the Design page, read from the package's own module docstrings.

Parses every module under ``src/networkfed`` with :mod:`ast` (nothing is imported) and lists
each package in data-flow order with the first sentence of each module's docstring, so the
map follows the code as modules are added, renamed or removed.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["PACKAGE_ORDER", "module_map_markdown"]

SRC = Path(__file__).resolve().parents[2] / "src" / "networkfed"
PACKAGE_ORDER = ("core", "data", "models", "federated", "privacy", "monitoring", "serving",
                 "tuning", "flower", "cli")
"""Packages in the order data flows through them (imports only flow this way)."""


def _summary(path: Path) -> str:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(docstring.split("\n\n")[0].split())
    return first.replace("|", "\\|") or "—"


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _row(path: Path) -> str:
    dotted = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    dotted = dotted.removesuffix(".__init__")
    return f"| `{dotted}` | {_summary(path)} |"


def module_map_markdown() -> str:
    """One table per package, in data-flow order, then the top-level modules."""
    found = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    found |= {p.name for p in SRC.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    order = [name for name in PACKAGE_ORDER if name in found] + sorted(found - set(PACKAGE_ORDER))
    lines: list[str] = []
    for name in order:
        lines += [f"### `networkfed.{name}`", "", "| module | what it is for |", "|---|---|"]
        lines += [_row(path) for path in _modules(SRC / name)]
        lines.append("")
    lines += ["### Top-level modules", "", "| module | what it is for |", "|---|---|"]
    lines += [_row(path) for path in sorted(SRC.glob("*.py"))]
    return "\n".join(lines) + "\n"
