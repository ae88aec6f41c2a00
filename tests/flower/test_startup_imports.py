"""Start-up cost: what a CLI call or a Flower app process imports before any work.

A deployment starts a ClientApp process per message, and every ``networkfed`` command pays
its imports before it does anything, so libraries only some paths need (scikit-learn's ~0.6 s,
matplotlib, Optuna, ONNX Runtime, Ray) are imported where they are used, and what is imported
is imported with the garbage collector paused and frozen after (``networkfed.startup``).
"""

from __future__ import annotations

import pytest

from fresh_interpreter import printed_json

HEAVY = ("sklearn", "matplotlib", "optuna", "onnxruntime", "ray", "mlflow")


@pytest.mark.parametrize("module", ["networkfed.cli.main", "networkfed.flower.client_app"])
def test_entry_points_import_no_heavy_library(module: str) -> None:
    assert printed_json(f"""
        import json, sys
        import {module}
        print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
    """) == []


@pytest.mark.parametrize("module", ["networkfed.flower.client_app", "networkfed.flower.server_app"])
def test_flower_app_modules_leave_their_imports_frozen(module: str) -> None:
    seen = printed_json(f"""
        import gc, json
        import {module}
        print(json.dumps([gc.get_freeze_count(), len(gc.get_objects()), gc.isenabled()]))
    """)
    frozen, tracked, enabled = seen
    assert frozen > 100_000 and tracked < frozen / 100 and enabled

