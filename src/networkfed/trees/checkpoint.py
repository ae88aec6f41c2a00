"""Every round's global booster in the run folder: ``checkpoints/xgboost/round_NNNN.json``.

Beside each booster a ``round_NNNN.meta.json`` holds what ``predict`` and ``export`` need from
that round alone (the preprocessing spec, the alarm threshold chosen on validation data, the
tree settings, the overall test metrics, tree count and size). Both files are written through
a temporary file and a rename, the booster first, so a kill -9 never leaves a metadata file
pointing at half a booster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from networkfed.core.errors import CheckpointError, UnknownRoundError
from networkfed.monitoring.files import atomic_write_bytes, atomic_write_text
from networkfed.monitoring.run_folder import CHECKPOINTS_DIR

__all__ = ["TREE_CHECKPOINTS", "read_round", "tree_rounds", "write_round"]

TREE_CHECKPOINTS = "xgboost"
_ROUND = re.compile(r"^round_(\d{4,})\.meta\.json$")


def _folder(run_dir: Path) -> Path:
    return run_dir / CHECKPOINTS_DIR / TREE_CHECKPOINTS


def write_round(run_dir: Path, round_num: int, model: bytes, meta: Mapping[str, Any]) -> None:
    """Save one round's booster, then its metadata (atomically, in that order)."""
    folder = _folder(run_dir)
    atomic_write_bytes(folder / f"round_{round_num:04d}.json", model)
    atomic_write_text(folder / f"round_{round_num:04d}.meta.json", json.dumps(dict(meta)))


def tree_rounds(run_dir: Path) -> list[int]:
    """Rounds with a complete booster checkpoint, ascending (empty: not a tree run)."""
    folder = _folder(run_dir)
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _ROUND.match(p.name)))


def read_round(run_dir: Path, round_num: int | None = None) -> tuple[int, bytes, dict[str, Any]]:
    """(round, booster JSON, metadata) of ``round_num`` (latest when ``None``)."""
    rounds = tree_rounds(run_dir)
    chosen = rounds[-1] if round_num is None and rounds else round_num
    if chosen not in rounds:
        raise UnknownRoundError(TREE_CHECKPOINTS, chosen, rounds)
    folder = _folder(run_dir)
    try:
        meta = json.loads((folder / f"round_{chosen:04d}.meta.json").read_text(encoding="utf-8"))
        model = (folder / f"round_{chosen:04d}.json").read_bytes()
    except (OSError, ValueError) as error:
        raise CheckpointError(folder, f"cannot read round {chosen} ({error})") from None
    return int(chosen), model, meta
