"""Write a realistic run folder that follows the run folder contract, without training.

Used by the report, plots, history and restore tests (and handy for looking at a report):
seeded test-window predictions that get better round by round, metrics computed from them
with scikit-learn, baselines, a monitor verdict and versions — every file the engine writes.
Checkpoints are written through the real ``ModelManager`` when ``checkpoints=True``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

SITES = {"automotive_detroit": 240, "chemical_houston": 180, "aerospace_seattle": 150}
FAILURE_RATE = 0.06
METRIC_NAMES = (
    "loss",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "threshold",
)


def make_run_folder(
    root: Path,
    *,
    rounds: int = 3,
    baselines: bool = True,
    predictions: bool = True,
    checkpoints: bool = False,
    seed: int = 7,
) -> Path:
    """Create ``root/run`` holding a complete fabricated run and return its path."""
    run_dir = root / "run"
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    labels = {site: _labels(rng, n) for site, n in SITES.items()}
    federated = [
        _evaluate(labels, _scores(rng, labels, 0.2 + 1.5 * r / rounds), shared=True)
        for r in range(rounds + 1)
    ]
    rows = [row for r, model in enumerate(federated) for row in _rows(r, "federated", model)]
    rows += [row for r in range(1, rounds + 1) for row in _train_and_val_rows(r, rng)]
    final = federated[-1]
    summary: dict[str, Any] = {
        "status": "complete",
        "rounds_completed": rounds,
        "best_round": rounds,
        "stopped_early": False,
        "final": final["metrics"]["overall"],
        "per_site": {site: final["metrics"][site] for site in SITES},
        "monitor": {"status": "issues_detected", "issues": ["accuracy_stagnation"]},
        "elapsed_seconds": 12.5,
    }
    frames = [_prediction_frame("federated", labels, final)]
    if baselines:
        central = _evaluate(labels, _scores(rng, labels, 2.1), shared=True)
        local = _evaluate(labels, _scores(rng, labels, 1.0), shared=False)
        rows += _rows(rounds, "centralized", central) + _rows(rounds, "local", local)
        summary["baselines"] = {
            "centralized": central["metrics"]["overall"],
            "local": {site: local["metrics"][site] for site in SITES},
            "local_overall": local["metrics"]["overall"],
        }
        frames += [
            _prediction_frame("centralized", labels, central),
            _prediction_frame("local", labels, local),
        ]
    _write_jsonl(run_dir / "metrics.jsonl", rows)
    (run_dir / "summary.json").write_text(json.dumps(_nulls(summary), indent=2))
    if predictions:
        pd.concat(frames).to_csv(run_dir / "predictions.csv", index=False)
    _write_config_and_manifest(run_dir, rounds, seed, baselines)
    if checkpoints:
        write_checkpoints(run_dir, [model["metrics"]["overall"] for model in federated], seed)
    return run_dir


def write_checkpoints(run_dir: Path, overall_by_round: list[dict[str, float]], seed: int) -> None:
    """Save one small CNN snapshot per round through ``ModelManager``, as the engine does."""
    import torch

    from networkfed.models import ModelManager

    torch.manual_seed(seed)
    manager = ModelManager(storage_dir=run_dir / "checkpoints")
    wrapper = manager.create_and_register_model("global", "cnn", 5, 2, sequence_length=4)
    preprocessing = {
        "source": "synthetic",
        "feature_names": ["a", "b", "c", "d", "e"],
        "sequence_length": 4,
        "mean": [0.0] * 5,
        "std": [1.0] * 5,
        "source_options": {},
    }
    for round_num, metrics in enumerate(overall_by_round):
        state = {
            k: v + 0.01 * round_num if v.is_floating_point() else v
            for k, v in wrapper.get_parameters().items()
        }
        wrapper.set_parameters(state)
        extra = {
            "preprocessing": preprocessing,
            "threshold": metrics["threshold"],
            "model_type": "cnn",
            "model_overrides": {"sequence_length": 4},
        }
        manager.save_model_state("global", round_num, metrics=_nulls(metrics), extra=extra)


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    labels = (rng.random(n) < FAILURE_RATE).astype(int)
    labels[:2] = 1  # every site has failures, so every ranking metric is defined
    return labels


def _scores(rng: np.random.Generator, labels: dict[str, np.ndarray], skill: float) -> dict:
    """Failure probabilities whose separation of the classes grows with ``skill``."""
    out = {}
    for site, y in labels.items():
        logits = -2.5 + skill * 1.6 * y + rng.normal(0, 1.0, len(y))
        out[site] = 1 / (1 + np.exp(-logits))
    return out


def _best_threshold(y: np.ndarray, prob: np.ndarray) -> float:
    """The probability that maximises F1 when alarms are ``prob >= threshold`` (vectorised)."""
    order = np.argsort(-prob, kind="stable")
    caught = np.cumsum(y[order])
    f1 = 2 * caught / (np.arange(1, len(y) + 1) + y.sum())
    return float(prob[order][int(np.argmax(f1))])


def _evaluate(labels: dict[str, np.ndarray], probs: dict[str, np.ndarray], *, shared: bool) -> dict:
    """Alarms and metrics of one model; ``shared``: one threshold for every site (global model)."""
    pooled_y = np.concatenate([labels[s] for s in SITES])
    pooled_p = np.concatenate([probs[s] for s in SITES])
    common = _best_threshold(pooled_y, pooled_p)
    thresholds = {s: common if shared else _best_threshold(labels[s], probs[s]) for s in SITES}
    alarms = {s: (probs[s] >= thresholds[s]).astype(int) for s in SITES}
    metrics = {s: _metrics(labels[s], probs[s], alarms[s], thresholds[s]) for s in SITES}
    pooled_alarm = np.concatenate([alarms[s] for s in SITES])
    metrics["overall"] = _metrics(pooled_y, pooled_p, pooled_alarm, common if shared else math.nan)
    return {"probs": probs, "alarms": alarms, "metrics": metrics}


def _metrics(y: np.ndarray, prob: np.ndarray, alarm: np.ndarray, threshold: float) -> dict:
    return {
        "loss": float(log_loss(y, np.clip(prob, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "accuracy": float(accuracy_score(y, alarm)),
        "balanced_accuracy": float(balanced_accuracy_score(y, alarm)),
        "precision": float(precision_score(y, alarm, zero_division=0)),
        "recall": float(recall_score(y, alarm, zero_division=0)),
        "f1": float(f1_score(y, alarm, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, prob)),
        "pr_auc": float(average_precision_score(y, prob)),
        "threshold": threshold,
        "num_examples": len(y),
        "positives": int(y.sum()),
    }


def _rows(round_num: int, mode: str, model: dict) -> list[dict]:
    return [
        {
            "round": round_num,
            "mode": mode,
            "site": site,
            "split": "test",
            **{k: m[k] for k in ("num_examples", *METRIC_NAMES)},
        }
        for site, m in model["metrics"].items()
    ]


def _train_and_val_rows(round_num: int, rng: np.random.Generator) -> list[dict]:
    """As the engine logs them: local training loss per site, validation metrics overall."""
    empty = dict.fromkeys(METRIC_NAMES[1:])
    train = [
        {
            "round": round_num,
            "mode": "federated",
            "site": site,
            "split": "train",
            "num_examples": 3 * n,
            **empty,
            "loss": float(rng.uniform(0.1, 0.6)),
        }
        for site, n in SITES.items()
    ]
    val = {
        "round": round_num,
        "mode": "federated",
        "site": "overall",
        "split": "val",
        "num_examples": sum(SITES.values()) // 2,
        **empty,
        "f1": float(rng.uniform(0, 1)),
        "pr_auc": float(rng.uniform(0, 1)),
    }
    return [*train, val]


def _prediction_frame(mode: str, labels: dict[str, np.ndarray], model: dict) -> pd.DataFrame:
    return pd.concat(
        pd.DataFrame(
            {
                "mode": mode,
                "site": site,
                "y_true": labels[site],
                "probability": model["probs"][site].round(6),
                "alarm": model["alarms"][site],
            }
        )
        for site in SITES
    )


def _write_config_and_manifest(run_dir: Path, rounds: int, seed: int, baselines: bool) -> None:
    from networkfed.data.config import DataConfig
    from networkfed.federated.config import RunConfig

    data = DataConfig(sequence_length=4)  # the fabricated checkpoints' windows
    config = RunConfig(rounds=rounds, seed=seed, baselines=baselines, data=data)
    config = config.model_dump(mode="json")
    (run_dir / "config.toml").write_text(tomli_w.dumps(_drop_none(config)))
    manifest = {
        "networkfed": "0.1.0",
        "torch": "2.13.0",
        "python": "3.11.2",
        "platform": "Linux-x86_64",
        "seed": seed,
        "engine": "inprocess",
        "data_fingerprint": "sha256:" + "ab" * 32,
        "created_at": "2025-01-01T00:00:00Z",
        "status": "complete",
        "rounds_completed": rounds,
        "model_id": "global",
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(_nulls(row)) + "\n" for row in rows))


def _nulls(value: Any) -> Any:
    """NaN -> None, recursively, as the engine writes JSON."""
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value
