"""The consoles the commands print with: a terminal's width, or as wide as the text needs.

Rich assumes 80 columns when the output is not a terminal (a pipe, a log file, CI), and then
cuts table cells to fit: site names became "automoti…" and a path broke as ".jso" / "n".
Off a terminal the consoles here are :data:`PIPE_WIDTH` wide instead, so a table takes the
width its cells need (tables do not expand) and lines are never folded. ``COLUMNS``, when
set, still decides, as Rich documents.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

__all__ = ["PIPE_WIDTH", "make_console"]

PIPE_WIDTH = 4096
"""Columns off a terminal: wider than any table row or path the commands print."""


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that never cuts text when it is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not (hasattr(stream, "isatty") and stream.isatty())
    wide = piped and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=PIPE_WIDTH if wide else None)
