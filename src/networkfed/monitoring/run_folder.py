"""Read a run folder written by the engine, checking each file as it is read.

The engine writes; the report, ``history`` and ``restore`` only read (they never mutate what
they load). Every problem raises :class:`~networkfed.core.errors.RunFolderError` naming the
file, so ``networkfed report RUN`` on the wrong folder prints one clear line.

Required: ``metrics.jsonl`` and ``summary.json``. Optional (sections of the report are
omitted with a note when absent): ``config.toml``, ``manifest.json``, ``predictions.csv``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from networkfed.core.errors import NotARunFolderError, RunFolderError
from networkfed.federated.metrics import COUNT_KEYS
from networkfed.federated.metrics import METRIC_KEYS as ALL_METRIC_KEYS

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

METRICS_FILE, SUMMARY_FILE = "metrics.jsonl", "summary.json"
CONFIG_FILE, MANIFEST_FILE, PREDICTIONS_FILE = "config.toml", "manifest.json", "predictions.csv"
CHECKPOINTS_DIR, GLOBAL_MODEL_ID = "checkpoints", "global"
SITE_LAYERS_DIR = "site_layers"
"""FedBN / FedPer runs: ``round_NNNN.safetensors``, every site's own layers of that round."""


def site_layers_file(run_dir: Path, round_num: int) -> Path:
    """Where a FedBN / FedPer run keeps the sites' own layers of ``round_num``."""
    return Path(run_dir) / SITE_LAYERS_DIR / f"round_{round_num:04d}.safetensors"

METRIC_KEYS = tuple(key for key in ALL_METRIC_KEYS if key not in COUNT_KEYS)
"""The real-valued metrics of a ``metrics.jsonl`` row, in the engine's order."""
METRICS_ROW_KEYS = ("round", "mode", "site", "split")
PREDICTION_COLUMNS = ("mode", "site", "y_true", "probability", "alarm")
OVERALL = "overall"


@dataclass(frozen=True)
class RunRecord:
    """Everything a run folder says about its run, as loaded (read-only by convention).

    Attributes
    ----------
    metrics
        ``metrics.jsonl`` as a frame: one row per (round, mode, site, split); ``null`` -> NaN.
    predictions
        ``predictions.csv`` (final round's test windows) or ``None`` when the run has none.
    """

    run_dir: Path
    summary: dict[str, Any]
    metrics: pd.DataFrame
    config: dict[str, Any] | None
    manifest: dict[str, Any] | None
    predictions: pd.DataFrame | None

    @property
    def baselines(self) -> dict[str, Any]:
        """``summary["baselines"]`` or an empty dict when the run had no baselines."""
        found = self.summary.get("baselines")
        return found if isinstance(found, dict) else {}

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / CHECKPOINTS_DIR


RUN_MARKERS = (MANIFEST_FILE, CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, CHECKPOINTS_DIR)
"""What only a run folder holds: a folder with none of them is not a run (wrong path)."""


def require_run_folder(run_dir: str | Path) -> Path:
    """``run_dir`` as a path, if it is a run folder (broken or not).

    Raises
    ------
    NotARunFolderError
        If it does not exist, is not a folder, or holds none of :data:`RUN_MARKERS`.
    """
    folder = Path(run_dir)
    if not folder.is_dir():
        raise NotARunFolderError(folder, "does not exist or is not a folder")
    if not any((folder / marker).exists() for marker in RUN_MARKERS):
        raise NotARunFolderError(
            folder, f"is not a NetworkFed run folder (it has no {CONFIG_FILE}, {MANIFEST_FILE}"
            f" or {METRICS_FILE}; runs are under runs/ unless --run-dir said otherwise)")
    return folder


def load_run(run_dir: str | Path) -> RunRecord:
    """Load and check a run folder.

    Raises
    ------
    RunFolderError
        If the folder, ``metrics.jsonl`` or ``summary.json`` is missing, or any present file
        is malformed.
    """
    folder = require_run_folder(run_dir)
    return RunRecord(
        run_dir=folder,
        summary=read_summary(folder),
        metrics=read_metrics(folder),
        config=read_config(folder),
        manifest=read_manifest(folder),
        predictions=read_predictions(folder),
    )


def read_summary(run_dir: Path) -> dict[str, Any]:
    """``summary.json`` as a dict; it must exist and hold a JSON object."""
    summary = _read_json(run_dir, SUMMARY_FILE, required=True)
    for key in ("final", "per_site"):
        if key in summary and not isinstance(summary[key], dict):
            raise RunFolderError(run_dir, SUMMARY_FILE, f"is malformed: '{key}' is not an object")
    return summary  # type: ignore[return-value]


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """``manifest.json`` (versions, seed, fingerprint), or ``None`` when absent."""
    return _read_json(run_dir, MANIFEST_FILE, required=False)


def read_config(run_dir: Path) -> dict[str, Any] | None:
    """``config.toml`` (the resolved RunConfig), or ``None`` when absent."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RunFolderError(run_dir, CONFIG_FILE, f"is not valid TOML ({error})") from None


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """``metrics.jsonl`` as a frame; every line must be a JSON object with the row keys."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        raise RunFolderError(run_dir, METRICS_FILE, "is missing (is this a NetworkFed run folder?)")
    rows = [_parse_metrics_line(run_dir, n, line) for n, line in _numbered_lines(path)]
    if not rows:
        raise RunFolderError(run_dir, METRICS_FILE, "is empty: the run saved no metrics")
    frame = pd.DataFrame(rows)
    for key in METRIC_KEYS:
        frame[key] = pd.to_numeric(frame[key], errors="coerce") if key in frame else math.nan
    frame["round"] = frame["round"].astype(int)
    return frame


def read_predictions(run_dir: Path) -> pd.DataFrame | None:
    """``predictions.csv`` with integer labels and alarms, or ``None`` when absent."""
    path = run_dir / PREDICTIONS_FILE
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype={"mode": str, "site": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RunFolderError(run_dir, PREDICTIONS_FILE, f"is not a valid CSV ({error})") from None
    rul_columns = ("mode", "site", "rul_true", "rul_predicted")
    if "rul_true" in frame.columns:  # a RUL run (run_writer.predictions_frame)
        missing = [column for column in rul_columns if column not in frame.columns]
        if missing:
            raise RunFolderError(run_dir, PREDICTIONS_FILE,
                                 f"lacks columns {missing} (expected {', '.join(rul_columns)})")
        for column in rul_columns[2:]:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
            if frame[column].isna().any():
                raise RunFolderError(run_dir, PREDICTIONS_FILE,
                                     f"has a non-numeric value in column {column}")
        return frame
    missing = [column for column in PREDICTION_COLUMNS if column not in frame.columns]
    if missing:
        expected = ", ".join(PREDICTION_COLUMNS)
        raise RunFolderError(
            run_dir, PREDICTIONS_FILE, f"lacks columns {missing} (expected {expected})"
        )
    try:
        frame["y_true"] = frame["y_true"].astype(int)
        frame["alarm"] = frame["alarm"].astype(int)
        frame["probability"] = frame["probability"].astype(float)
    except (TypeError, ValueError) as error:
        problem = f"has a non-numeric value ({error})"
        raise RunFolderError(run_dir, PREDICTIONS_FILE, problem) from None
    return frame


def latest_rows(metrics: pd.DataFrame, mode: str, split: str = "test") -> dict[str, dict[str, Any]]:
    """The last round's row of each site (and ``overall``) for one mode and split.

    Baselines may be logged at one round or at several (epochs); the latest one is the result.
    """
    chosen = metrics[(metrics["mode"] == mode) & (metrics["split"] == split)]
    if chosen.empty:
        return {}
    last = chosen.sort_values("round").groupby("site", sort=False).tail(1)
    return {str(row["site"]): _clean(row.to_dict()) for _, row in last.iterrows()}


def round_rows(metrics: pd.DataFrame, site: str = OVERALL, split: str = "test") -> pd.DataFrame:
    """The federated rows of one site over rounds, sorted by round (one row per round)."""
    chosen = metrics[
        (metrics["mode"] == "federated") & (metrics["site"] == site) & (metrics["split"] == split)
    ]
    return chosen.sort_values("round").drop_duplicates("round", keep="last")


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Turn pandas' NaN placeholders back into ``float('nan')`` floats and numbers into floats."""
    return {key: (float(value) if key in METRIC_KEYS else value) for key, value in row.items()}


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _parse_metrics_line(run_dir: Path, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        problem = f"line {number} is not JSON ({error})"
        raise RunFolderError(run_dir, METRICS_FILE, problem) from None
    if not isinstance(row, dict):
        raise RunFolderError(run_dir, METRICS_FILE, f"line {number} is not a JSON object")
    missing = [key for key in METRICS_ROW_KEYS if key not in row]
    if missing:
        raise RunFolderError(run_dir, METRICS_FILE, f"line {number} lacks keys {missing}")
    if not isinstance(row["round"], int) or isinstance(row["round"], bool):
        raise RunFolderError(run_dir, METRICS_FILE, f"line {number}: 'round' is not an integer")
    return row


def _read_json(run_dir: Path, name: str, *, required: bool) -> dict[str, Any] | None:
    path = run_dir / name
    if not path.is_file():
        if required:
            raise RunFolderError(run_dir, name, "is missing (is this a NetworkFed run folder?)")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunFolderError(run_dir, name, f"is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise RunFolderError(run_dir, name, "is malformed: expected a JSON object")
    return data
