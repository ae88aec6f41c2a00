"""Write the files of a run folder (the engine's half of the run folder contract).

Every file is written atomically (temporary file + ``os.replace``), so a crash or Ctrl-C
leaves either the previous version or the new one. ``resume/`` holds what ``--resume`` needs
besides the checkpoints: the engine's snapshot (round, callback states) as JSON and the
strategy's server state as safetensors.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from networkfed import __version__
from networkfed.core.errors import CheckpointError, ConfigError, RunFolderError
from networkfed.federated.config import RunConfig
from networkfed.federated.evaluation import Evaluation
from networkfed.federated.references import trivial_references
from networkfed.federated.regression import REGRESSION_KEYS
from networkfed.federated.site_layers import SiteLayers
from networkfed.monitoring.files import atomic_write_bytes, atomic_write_text
from networkfed.monitoring.run_folder import (
    CONFIG_FILE,
    GLOBAL_MODEL_ID,
    MANIFEST_FILE,
    METRIC_KEYS,
    PREDICTIONS_FILE,
    SUMMARY_FILE,
    site_layers_file,
)

logger = logging.getLogger(__name__)

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "RESUME_DIR",
    "jsonable",
    "load_run_config",
    "metric_rows",
    "predictions_frame",
    "read_resume_state",
    "write_config",
    "write_json",
    "write_manifest",
    "write_resume_state",
]

RESUME_DIR, RESUME_FILE = "resume", "state.json"


def jsonable(value: Any) -> Any:
    """``value`` with NaN/inf as ``None``, NumPy scalars as Python, tuples and paths as JSON."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, document: Mapping[str, Any]) -> Path:
    """Atomically write ``document`` as indented JSON (NaN -> null)."""
    return atomic_write_text(path, json.dumps(jsonable(document), indent=2) + "\n")


def write_config(run_dir: Path, config: RunConfig) -> Path:
    """``config.toml``: the resolved settings, as ``RunConfig`` reads them back."""
    return atomic_write_text(run_dir / CONFIG_FILE, tomli_w.dumps(_drop_none(config_dict(config))))


def config_dict(config: RunConfig) -> dict[str, Any]:
    return jsonable(config.model_dump(mode="json"))


def load_run_config(run_dir: Path) -> RunConfig:
    """The ``RunConfig`` a run folder was started with (for ``--resume``)."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunFolderError(run_dir, CONFIG_FILE, "is missing: nothing to resume here")
    try:
        return RunConfig.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValueError) as error:
        raise RunFolderError(run_dir, CONFIG_FILE, f"is not a valid run config ({error})") from None


def write_manifest(run_dir: Path, base: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """Write ``manifest.json`` from ``base`` plus ``changes``; return what was written."""
    manifest = {**base, **changes, "updated_at": _now()}
    write_json(run_dir / MANIFEST_FILE, manifest)
    return manifest


def new_manifest(config: RunConfig, fingerprint: str) -> dict[str, Any]:
    """Versions, seed and data fingerprint: what is needed to reproduce or trust a run."""
    return {
        "networkfed": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:]),
        "seed": config.seed,
        "engine": config.engine,
        "data_fingerprint": fingerprint,
        "created_at": _now(),
        "status": "running",
        "rounds_completed": 0,
        "model_id": GLOBAL_MODEL_ID,
    }


def metric_rows(
    round_num: int, mode: str, evaluation: Evaluation, *, validation: bool = False
) -> list[dict[str, Any]]:
    """``metrics.jsonl`` rows of one evaluation: every site's test split and the overall."""
    rows = [_row(round_num, mode, site, "test", m) for site, m in evaluation.per_site.items()]
    rows.append(_row(round_num, mode, "overall", "test", evaluation.overall))
    if validation:
        rows.append(_row(round_num, mode, "overall", "val", evaluation.validation))
    return rows


def train_rows(round_num: int, metrics: Mapping[str, Mapping[str, float]],
               sizes: Mapping[str, int]) -> list[dict[str, Any]]:
    """Rows with each trained site's mean local training loss (split ``train``)."""
    return [
        {**_row(round_num, "federated", site, "train", {"loss": m.get("train_loss")}),
         "num_examples": sizes.get(site)}
        for site, m in metrics.items()
    ]


def _row(round_num: int, mode: str, site: str, split: str, metrics: Mapping[str, Any]) -> dict:
    """One row; evaluated rows also carry their failure count (``positives``) and the labels'
    trivial references (``failure_rate``, also the PR-AUC of chance, and ``always_alarm_f1``;
    ROC-AUC's is 0.5)."""
    row: dict[str, Any] = {"round": round_num, "mode": mode, "site": site, "split": split,
           "num_examples": metrics.get("num_examples")}
    row.update({key: metrics.get(key) for key in METRIC_KEYS})
    if "rmse" in metrics:  # a RUL run: its regression scores instead of the classification's
        row = {k: v for k, v in row.items() if k not in METRIC_KEYS or k in REGRESSION_KEYS}
        row.update({key: metrics.get(key) for key in REGRESSION_KEYS})
    if "positives" in metrics:
        reference = trivial_references(metrics["positives"], metrics.get("num_examples"))
        row.update(positives=metrics["positives"], failure_rate=reference["failure_rate"],
                   always_alarm_f1=reference["f1"])
    return jsonable(row)


def predictions_frame(mode: str, evaluation: Evaluation) -> pd.DataFrame:
    """``predictions.csv`` rows of one model: every test window with its alarm."""
    frames = []
    for site, predictions in evaluation.predictions.items():
        if np.issubdtype(predictions.y_true.dtype, np.floating):  # RUL: cycles, not classes
            frames.append(pd.DataFrame({
                "mode": mode, "site": site, "rul_true": predictions.y_true.astype(np.float64),
                "rul_predicted": np.round(predictions.probability, 3),
            }))
            continue
        threshold = evaluation.per_site[site]["threshold"]
        frames.append(pd.DataFrame({
            "mode": mode,
            "site": site,
            "y_true": predictions.y_true.astype(int),
            "probability": np.round(predictions.probability, 6),
            "alarm": (predictions.probability >= threshold).astype(int),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_predictions(run_dir: Path, frames: list[pd.DataFrame]) -> Path:
    return atomic_write_text(run_dir / PREDICTIONS_FILE, pd.concat(frames).to_csv(index=False))


def write_summary(run_dir: Path, summary: Mapping[str, Any]) -> Path:
    return write_json(run_dir / SUMMARY_FILE, summary)


def write_resume_state(run_dir: Path, snapshot: Mapping[str, Any]) -> None:
    """Save the engine snapshot of a round: strategy tensors first, then the JSON that names
    them (so the JSON never points at a file that is not complete)."""
    folder = run_dir / RESUME_DIR
    round_num = int(snapshot["completed_round"])
    tensors = {k: v.contiguous() for k, v in snapshot["strategy"].items()}
    strategy_file = f"strategy_round_{round_num:04d}.safetensors"
    atomic_write_bytes(folder / strategy_file, save_safetensors(tensors))
    document = {k: v for k, v in snapshot.items() if k != "strategy"}
    document["strategy_file"] = strategy_file
    atomic_write_text(folder / RESUME_FILE, json.dumps(document, default=_plain))
    for old in folder.glob("strategy_round_*.safetensors"):
        if old.name != strategy_file:
            old.unlink(missing_ok=True)


def write_site_layers(
    run_dir: Path, round_num: int, layers: SiteLayers, site_ids: list[str]
) -> None:
    """Save the sites' own layers (FedBN / FedPer) of a round, before the round's checkpoint."""
    atomic_write_bytes(site_layers_file(run_dir, round_num), layers.to_bytes(site_ids))


def read_site_layers(run_dir: Path, round_num: int) -> tuple[SiteLayers, list[str]] | None:
    """The sites' own layers of a round and the federation's sites (``None``: the run keeps
    no layer per site)."""
    path = site_layers_file(run_dir, round_num)
    if not path.is_file():
        return None
    return SiteLayers.from_bytes(path.read_bytes(), path)


def with_site_layers(
    run_dir: Path, round_num: int, state: dict[str, torch.Tensor], site_id: str | None
) -> dict[str, torch.Tensor]:
    """A saved round's global state with ``site_id``'s own layers, after a FedBN / FedPer run.

    Without ``site_id``, or for a site that had not trained by that round, the state keeps
    the averaged layers: what a new site would start from (a warning says so). Runs without
    FedBN or FedPer return ``state`` unchanged.

    Raises
    ------
    ConfigError
        If ``site_id`` is not one of the run's sites.
    """
    saved = read_site_layers(Path(run_dir), round_num)
    if saved is None:
        return state
    layers, federation_sites = saved
    if site_id is None:
        logger.warning("%s keeps layers per site (FedBN / FedPer): without --site NAME the "
                       "model uses their average (sites: %s)", run_dir,
                       ", ".join(federation_sites))
        return state
    if site_id not in federation_sites:
        raise ConfigError("--site", site_id,
                          f"one of the run's sites ({', '.join(federation_sites)})")
    return layers.personalize(state, site_id)


def read_resume_state(run_dir: Path) -> dict[str, Any] | None:
    """The last saved snapshot, or ``None`` if the run saved none."""
    folder = run_dir / RESUME_DIR
    path = folder / RESUME_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        data = (folder / document.pop("strategy_file")).read_bytes()
        document["strategy"] = load_safetensors(data)
    except (OSError, KeyError, ValueError) as error:
        raise CheckpointError(path, f"cannot read the resume state ({error})") from None
    saved_layers = read_site_layers(run_dir, int(document["completed_round"]))
    if saved_layers is not None:
        document["site_layers"] = saved_layers[0]
    return document


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"cannot save {type(value).__name__} in the resume state")


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
