"""The ``networkfed`` console script: import the command line once, for the process's life.

Kept apart from :mod:`networkfed.cli.main` so that the collector is paused before the first
heavy import (torch, through the commands' modules) and the imported objects are frozen
before any command runs (:func:`networkfed.startup.imports_for_life`): a command then
starts about 0.25 s sooner and exits about 0.6 s sooner, and the engine's forked workers
share those pages with it untouched.
"""

from __future__ import annotations

from networkfed.startup import imports_for_life

__all__ = ["main"]


def main() -> None:
    """Run the ``networkfed`` command line."""
    with imports_for_life():
        from networkfed.cli.main import app
    app()
