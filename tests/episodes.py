"""A CSV like the one issue 18 was found on: many short test cycles at three plants.

One row per second, 12-19 seconds a cycle, the label constant within a cycle (a cycle fails
or does not): groups that are episodes, not long-running machines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PLANTS = ("plant_a", "plant_b", "plant_c")


def write_cycles(path: Path, *, cycles: int = 24, constant_label: bool = True,
                 seed: int = 0) -> Path:
    """Short cycles (12-19 rows, one per second) at three plants; a third of them fail."""
    rng = np.random.default_rng(seed)
    rows = []
    for plant in PLANTS:
        for cycle in range(cycles):
            length, failed = int(rng.integers(12, 20)), int(rng.random() < 0.35)
            for second in range(length):
                label = failed if constant_label else int(failed and second >= length - 3)
                rows.append((plant, f"{plant}-c{cycle}", second,
                             rng.normal() + failed * second / length, rng.normal(), label))
    frame = pd.DataFrame(rows, columns=["plant", "cycle", "second", "vib", "temp", "failure"])
    frame.to_csv(path, index=False)
    return path
