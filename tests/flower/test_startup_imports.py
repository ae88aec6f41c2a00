"""Start-up cost: what a CLI call or a Flower ClientApp process imports before any work.

A deployment starts a ClientApp process per message, and every ``networkfed`` command pays
its imports before it does anything, so libraries only some paths need (scikit-learn's ~0.6 s,
matplotlib, Optuna, ONNX Runtime, Ray) are imported where they are used.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("sklearn", "matplotlib", "optuna", "onnxruntime", "ray")


@pytest.mark.parametrize("module", ["networkfed.cli.main", "networkfed.flower.client_app"])
def test_entry_points_import_no_heavy_library(module: str) -> None:
    script = textwrap.dedent(f"""
        import json, sys
        import {module}
        print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
    """)
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120).stdout
    assert json.loads(output.strip().splitlines()[-1]) == []
