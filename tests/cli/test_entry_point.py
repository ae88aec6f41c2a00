"""The ``networkfed`` console script and the start-up it gives every command."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from fresh_interpreter import printed_json
from networkfed import __version__


def test_the_console_script_is_the_entry_module() -> None:
    [script] = entry_points(group="console_scripts", name="networkfed")
    assert script.value == "networkfed.cli.entry:main"


def test_the_installed_command_runs() -> None:
    command = Path(sys.executable).parent / "networkfed"
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"networkfed {__version__}"


def test_the_startup_module_loads_before_torch() -> None:
    """The console script pauses the collector before torch loads, so importing the helper
    must not load it."""
    assert printed_json("""
        import json, sys
        import networkfed.startup
        print(json.dumps("torch" in sys.modules))
    """) is False


def _after_imports(collector_on_before: bool) -> dict:
    """What ``imports_for_life`` leaves behind, seen from a fresh interpreter."""
    return printed_json(f"""
        import gc, json
        from networkfed.startup import imports_for_life
        if not {collector_on_before}:
            gc.disable()
        during = []
        with imports_for_life():
            during.append(gc.isenabled())
            import torch
        print(json.dumps({{"during": during[0], "after": gc.isenabled(),
                          "frozen": gc.get_freeze_count(),
                          "tracked": len(gc.get_objects())}}))
    """)


@pytest.mark.parametrize("collector_on_before", [True, False])
def test_imports_run_without_collections_and_are_frozen_after(collector_on_before: bool) -> None:
    seen = _after_imports(collector_on_before)
    assert seen["during"] is False
    assert seen["after"] is collector_on_before
    assert seen["frozen"] > 100_000  # torch's modules, functions and tables
    assert seen["tracked"] < seen["frozen"] / 100  # nothing left for the collector to walk
