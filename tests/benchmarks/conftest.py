"""Benchmark commands set logging for their own console (the package's level, root handlers,
``logging.disable``); tests call them in-process, so each test's changes are undone here, or
every later test's caplog would miss the package's warnings."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    package, root = logging.getLogger("networkfed"), logging.getLogger()
    package_level, root_level = package.level, root.level
    root_handlers, disabled = list(root.handlers), logging.root.manager.disable
    yield
    package.setLevel(package_level)
    root.setLevel(root_level)
    root.handlers[:] = root_handlers
    logging.disable(disabled)
