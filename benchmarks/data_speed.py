"""How fast the data layer prepares real and built-in data; one command, results to JSON.

    .venv/bin/python benchmarks/data_speed.py [--data-dir DIR] [--repeats N]

Measures (median of ``--repeats`` runs, one process, one thread):

1. C-MAPSS FD001-FD004 (train + official test files, ~265,000 rows): read, validate,
   per-condition normalisation, federated standardisation, windows -> ``load_federated_data``.
2. 30,000 rows of built-in telemetry: the generator alone (3 presets x 10,000 rows), and the
   whole ``load_federated_data`` on them.
3. AI4I 2020 (10,000 rows) through ``load_federated_data``.

Peak memory is measured in a separate run with ``tracemalloc`` (Python and NumPy
allocations), so it does not slow the timed runs. Writes ``benchmarks/results/data_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from networkfed.data import DataConfig, load_federated_data
from networkfed.data.synthetic import PRESETS, generate_site_telemetry

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "data_speed.json"


def _data_dir(given: str | None) -> Path:
    candidate = Path(
        given or os.environ.get("NETWORKFED_DATA_DIR") or ROOT.parent / "shared" / "data"
    )
    if not (candidate / "cmapss").is_dir():
        raise SystemExit(f"C-MAPSS not found under {candidate} (pass --data-dir)")
    return candidate


def _measure(task: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median and min seconds over ``repeats`` runs, then peak traced memory of one more run."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        task()
        seconds.append(time.perf_counter() - start)
    tracemalloc.start()
    task()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds_median": round(statistics.median(seconds), 3),
        "seconds_min": round(min(seconds), 3),
        "peak_memory_mib": round(peak / 2**20, 1),
    }


def _cmapss_rows(folder: Path) -> int:
    return sum(
        sum(1 for _ in (folder / f"{part}_FD00{i}.txt").open())
        for part in ("train", "test")
        for i in range(1, 5)
    )


def _generate_30k() -> None:
    for profile in PRESETS.values():
        generate_site_telemetry(profile, 10_000, seed=0)


def run(data_dir: Path, repeats: int) -> dict[str, Any]:
    """All measurements as one JSON-able dict."""
    cmapss = DataConfig(dataset="cmapss", data_path=data_dir / "cmapss")
    ai4i = DataConfig(dataset="ai4i2020", data_path=data_dir / "ai4i2020" / "ai4i2020.csv")
    synthetic = DataConfig(rows_per_site=10_000)
    windows = sum(
        len(s.train) + len(s.val) + len(s.test)
        for s in load_federated_data(cmapss, 0).sites.values()
    )
    return {
        "cmapss_fd001_fd004": {
            "rows": _cmapss_rows(data_dir / "cmapss"),
            "windows": windows,
            **_measure(lambda: load_federated_data(cmapss, 0), repeats),
        },
        "synthetic_generate_30000_rows": _measure(_generate_30k, repeats),
        "synthetic_load_3x10000_rows": _measure(lambda: load_federated_data(synthetic, 0), repeats),
        "ai4i2020_load_10000_rows": _measure(lambda: load_federated_data(ai4i, 0), repeats),
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "repeats": repeats,
        },
    }


def _write_atomically(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    os.replace(handle.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder holding cmapss/ and ai4i2020/")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = run(_data_dir(args.data_dir), args.repeats)
    _write_atomically(RESULT, results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
