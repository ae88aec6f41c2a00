"""Tiny real runs for the tuning, serving and CLI tests: seconds each, seeded, on one thread.

A run here is a real ``run_federated`` call writing a real run folder (checkpoints with their
preprocessing metadata, summary.json, metrics.jsonl), so predict / export / tune are tested
against what the engine actually writes, not a fabricated folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from networkfed.api import run_federated
from networkfed.data import DataConfig, generate_site_telemetry
from networkfed.data.synthetic import AI4I_NUMERIC_COLUMNS, profile_for_site
from networkfed.federated.config import RunConfig
from networkfed.federated.results import RunResult

TINY_ROWS = 300
CSV_SITES = ("plant_a", "plant_b", "plant_c")
LABEL = "Machine failure"


def tiny_data(**options: object) -> DataConfig:
    """Built-in telemetry, three sites of a few hundred rows each."""
    return DataConfig(rows_per_site=TINY_ROWS, **options)


def make_run(
    run_dir: Path,
    model: str = "cnn",
    data: DataConfig | None = None,
    rounds: int = 2,
    **run: object,
) -> RunResult:
    """One seeded federated run written to ``run_dir``."""
    config = RunConfig(
        data=data or tiny_data(), model=model, rounds=rounds, local_epochs=1, seed=7, workers=0,
        **run,
    )
    return run_federated(config, run_dir=run_dir)


def write_plant_csv(path: Path, rows_per_site: int = 600, seed: int = 3) -> Path:
    """A user's CSV: three plants' telemetry with machine, time step and failure label."""
    frames = []
    for index, site in enumerate(CSV_SITES):
        frame = generate_site_telemetry(profile_for_site(site, index), rows_per_site, seed)
        frames.append(frame.assign(plant=site))
    columns = ["plant", "machine_id", "step", *AI4I_NUMERIC_COLUMNS, LABEL]
    pd.concat(frames, ignore_index=True)[columns].to_csv(path, index=False)
    return path


def plant_csv_config(path: Path, **options: object) -> DataConfig:
    """How ``simulate --dataset csv`` reads :func:`write_plant_csv`'s file."""
    return DataConfig(
        dataset="csv", data_path=path, label_column=LABEL, site_column="plant",
        group_column="machine_id", time_column="step", feature_columns=AI4I_NUMERIC_COLUMNS,
        **options,
    )


def write_fleet_csv(path: Path, machines_per_plant: int = 14, seed: int = 0) -> Path:
    """Two plants of machines that run until they fail at their last row; two sensors drift
    as the end approaches (one from the start, one only in the last 50 cycles), one is noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for plant in ("plant_a", "plant_b"):
        for machine in range(machines_per_plant):
            life = int(rng.integers(60, 110))
            cycle = np.arange(life)
            rul = life - 1 - cycle
            frames.append(pd.DataFrame({
                "plant": plant, "machine": f"{plant}-{machine:02d}", "cycle": cycle,
                "wear": np.exp(-rul / 40) + rng.normal(0, 0.03, life),
                "vibration": np.clip(50 - rul, 0, None) / 50 + rng.normal(0, 0.03, life),
                "noise": rng.normal(0, 1, life),
                "rul": rul,
            }))
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return path
