"""How many tuning trials an hour ``networkfed tune`` runs, with median pruning on and off.

    .venv/bin/python benchmarks/tune_speed.py [--model cnn] [--trials 6] [--rounds 5] [--seed 42]

The default synthetic workload (three example sites, ~15,000 rows, windows of 10) is loaded
once; then two studies of ``--trials`` trials, seeded the same way, one with ``MedianPruner``
(the ``tune`` default) and one without, run **interleaved** (one trial of each in turn), so a
busy shared machine slows both alike. Each trial is a full federated simulation on the
in-process engine with its default worker choice. A study's time is the sum of its trials'
durations. Reports trials per hour, rounds actually trained (pruned trials stop early), the
pruned count and the best validation F1. Writes ``benchmarks/results/tune_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from networkfed.data import DataConfig, load_federated_data
from networkfed.data.types import FederatedData
from networkfed.monitoring.files import atomic_write_text
from networkfed.tuning.study import StudySettings, run_study

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "tune_speed.json"


def _summary(study: optuna.Study, pruning: bool) -> dict[str, Any]:
    """Timing and outcome of one finished study."""
    trials = study.trials
    seconds = sum(t.duration.total_seconds() for t in trials if t.duration is not None)
    states = [t.state for t in trials]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    rounds = sum(t.last_step or 0 for t in trials)
    return {
        "pruning": pruning,
        "trials": len(trials),
        "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED),
        "failed": states.count(TrialState.FAIL),
        "rounds_trained": rounds,
        "seconds": round(seconds, 1),
        "seconds_per_trial": round(seconds / max(len(trials), 1), 1),
        "seconds_per_round": round(seconds / max(rounds, 1), 2),
        "trials_per_hour": round(3600 * len(trials) / seconds, 1),
        "best_val_f1": round(max(t.value for t in complete), 4) if complete else None,
        "per_trial": [_trial_record(t) for t in trials],
    }


def _trial_record(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """What a trial cost and why: its state, rounds, seconds and the costliest settings."""
    seconds = trial.duration.total_seconds() if trial.duration is not None else None
    return {
        "number": trial.number,
        "state": trial.state.name,
        "rounds": trial.last_step,
        "seconds": round(seconds, 1) if seconds is not None else None,
        "val_f1": round(trial.value, 4) if trial.value is not None else None,
        "local_epochs": trial.params.get("local_epochs"),
        "batch_size": trial.params.get("batch_size"),
    }


def _matched(studies: list[optuna.Study]) -> dict[str, Any]:
    """Trials that drew the same point in both studies (TPE's seeded random start-up): the
    time pruning saved on identical work, free of which-trials-got-pruned luck."""
    pruned_study, plain_study = studies
    same = [
        (a, b) for a, b in zip(pruned_study.trials, plain_study.trials, strict=False)
        if a.params == b.params and a.duration is not None and b.duration is not None
    ]
    with_pruning = sum(a.duration.total_seconds() for a, _ in same)
    without = sum(b.duration.total_seconds() for _, b in same)
    return {
        "trials": len(same),
        "seconds_with_pruning": round(with_pruning, 1),
        "seconds_without_pruning": round(without, 1),
        "rounds_with_pruning": sum(a.last_step or 0 for a, _ in same),
        "rounds_without_pruning": sum(b.last_step or 0 for _, b in same),
    }


def _interleaved(
    base: StudySettings, data: FederatedData, trials: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both studies, one trial each in turn; their summaries (pruning on first), matched."""
    variants = [base.model_copy(update={"pruning": pruning}) for pruning in (True, False)]
    with tempfile.TemporaryDirectory() as root:
        folders = [Path(root) / f"pruning_{s.pruning}" for s in variants]
        studies = []
        for count in range(1, trials + 1):
            studies = [run_study(f, s, count, data) for f, s in zip(folders, variants, strict=True)]
        runs = [_summary(study, s.pruning) for study, s in zip(studies, variants, strict=True)]
        return runs, _matched(studies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("networkfed.monitoring").setLevel(logging.ERROR)  # as `tune` does
    base = StudySettings(model=args.model, data=DataConfig(), rounds=args.rounds, seed=args.seed)
    data = load_federated_data(base.data, base.seed)
    runs, matched = _interleaved(base, data, args.trials)
    result = {
        "command": f"benchmarks/tune_speed.py --model {args.model} --trials {args.trials} "
        f"--rounds {args.rounds} --seed {args.seed}",
        "workload": {
            "dataset": "synthetic (default: 3 example sites)",
            "train_windows": sum(len(s.train) for s in data.sites.values()),
            "model": args.model,
            "rounds_per_trial": args.rounds,
            "pruner": "MedianPruner(n_startup_trials=2, n_warmup_steps=1) on per-round val F1",
            "sampler": "TPESampler(seed=seed + trial index, n_startup_trials=5)",
        },
        "studies": runs,
        "speedup_from_pruning": round(runs[0]["trials_per_hour"] / runs[1]["trials_per_hour"], 2),
        "same_points_in_both_studies": matched,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "optuna": optuna.__version__,
        },
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    atomic_write_text(RESULT, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
