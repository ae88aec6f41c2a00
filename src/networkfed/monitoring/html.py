"""Small HTML building blocks for the run report: escaped text, tables, notes, images.

Every piece of text that comes from a run folder (site names, config values, issues) passes
through :func:`html.escape` here, so a hostile or odd site name cannot break the page. The
page is self-contained: inline CSS, images embedded as base64 data URIs.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["esc", "fmt", "image", "note", "page", "pct", "section", "table"]

MISSING = "—"

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d2430; background: #f6f7f9; margin: 0; line-height: 1.45; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.7em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.25em; margin-top: 1.8em; padding-bottom: 4px; border-bottom: 2px solid #dfe3ea; }
p.lead { color: #4a5566; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #dfe3ea; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.highlight td { background: #fff7d6; font-weight: 600; }
td.key { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.95em;
         overflow-wrap: break-word; }
.note { background: #f3f5f8; border-left: 4px solid #9aa5b5; padding: 8px 12px; color: #3e4856; }
.warn { background: #fff4e5; border-left-color: #e8912d; }
.good { background: #eaf7ee; border-left-color: #2e9e57; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e6eb; }
figcaption { color: #4a5566; font-size: 0.9em; margin-top: 4px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em;
         background: #dfe3ea; }
.badge.complete, .badge.healthy { background: #cdebd6; }
.badge.failed, .badge.issues_detected { background: #fbd9c9; }
.badge.running { background: #fff0b3; }
ul.findings li { margin-bottom: 4px; }
"""


def esc(value: object) -> str:
    """Escape any value for HTML text or attribute context."""
    return html.escape(str(value), quote=True)


def fmt(value: object, digits: int = 3) -> str:
    """A number with ``digits`` decimals; missing or NaN -> an em dash (undefined)."""
    if isinstance(value, bool) or value is None:
        return MISSING if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return MISSING if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage; missing or NaN -> an em dash."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{100 * value:.{digits}f}%"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric_from: int | None = 1,
    highlight: Iterable[int] = (),
) -> str:
    """A table; columns from ``numeric_from`` on (``None``: none) are right-aligned numbers.

    Cells are escaped here, so callers pass raw strings.
    """
    marked = set(highlight)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        cells = "".join(
            f'<td class="{_cell_class(column, numeric_from)}">{esc(cell)}</td>'
            for column, cell in enumerate(row)
        )
        css = ' class="highlight"' if index in marked else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell_class(column: int, numeric_from: int | None) -> str:
    return "num" if numeric_from is not None and column >= numeric_from else "key"


def note(text: str, kind: str = "") -> str:
    """A shaded paragraph (``kind`` in ``"", "warn", "good"``); ``text`` is escaped."""
    return f'<p class="note {esc(kind)}">{esc(text)}</p>'


def section(title: str, body: str, anchor: str) -> str:
    """A titled section; ``body`` is trusted HTML built by this module's helpers."""
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def image(path: Path, alt: str, caption: str) -> str:
    """The PNG at ``path`` embedded as a data URI, so report.html travels alone."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def page(title: str, body: str) -> str:
    """The whole document: UTF-8, viewport, inline CSS, no external resources."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
