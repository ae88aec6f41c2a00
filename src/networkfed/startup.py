"""A process's start-up: imports with the garbage collector paused, then frozen for life.

Importing torch, Flower and the rest creates about 340,000 objects the collector tracks, all
living until the process exits. CPython's cyclic collector cannot know that: while the
imports run it makes full collections over them (about 0.3 s of a ``networkfed`` command's
or a ClientApp's start-up on a two-core machine), later full collections walk them again,
and the collection at interpreter exit walks them a last time (about 0.6 s with torch and
scikit-learn loaded). ``gc.freeze`` moves them to the permanent generation, which no
collection visits: the recipe Python's own documentation gives for processes that fork
workers, whose collections then never write to the pages they share with the parent either
(see ``federated.workers``).

This module imports nothing heavy itself, so an entry point can use it before torch loads.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["imports_for_life"]


@contextmanager
def imports_for_life() -> Iterator[None]:
    """Run the imports inside with the collector paused, then freeze every object alive.

    Only where a process starts its work: the ``networkfed`` command, the Flower app modules
    (Flower loads each in a process it starts for the app), a benchmark's child. A frozen
    object is never collected as part of a reference cycle, so a library function must not
    freeze its caller's objects on its behalf. The collector is switched back on only if it
    was on before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
