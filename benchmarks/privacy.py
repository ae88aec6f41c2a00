"""Utility against privacy: F1 / PR-AUC of the LSTM on AI4I 2020 at ε ∈ {∞, 8, 4, 1}.

    .venv/bin/python benchmarks/privacy.py [--quick] [--seeds 0,1,2] [--rounds 10]
        [--workers 2] [--data-dir ../shared/data] [--tabulate]

AI4I 2020 (``--data-dir``, default ``../shared/data``), rows as inputs, one pooled stratified
80/20 split per seed (validation carved from the 80 %), over three federations: the product
types L / M / H (3 sites), Dirichlet(0.5) label skew over 5 sites, and Dirichlet(2.0) over 30
sites (at 0.5, 30 sites leave some site with too few rows for one of the seeds). Every
cell is one federated run (:func:`networkfed.api.run_federated`, in-process, FedAvg, the LSTM
with the robustness benchmark's settings: batch 256, lr 0.003, plain cross-entropy, one local
epoch a round) at δ = 1e-5:

* ``none`` — no DP (ε = ∞), the reference of both modes;
* ``client`` — client-level DP-FedAvg, update clip 1.0, the noise multiplier solved for the
  target ε from the rounds and the sampling rate (all sites every round). A target the sites
  cannot carry (noise multiplier above the number of sites) is recorded as refused, with the
  multiplier it would need: the "few sites need much noise" finding, in numbers;
* ``sample`` — DP-SGD at every site (Opacus), per-example clip 1.0, one noise multiplier that
  keeps every site within the target; not run on 30 sites (it protects rows, not sites, and
  costs the same at any number of sites).

The clips are fixed before any run (1.0, Opacus' customary per-example default), nothing is
chosen on test data; the alarm threshold is the engine's, chosen on validation data. Reported:
the final global model's failure-class F1 and PR-AUC on the test split, the ε actually spent
(Opacus' RDP accountant), the noise multiplier and, for client DP, the share of clipped updates.
Writes ``benchmarks/results/privacy.json`` and the curve ``docs/benchmarks/privacy.png``
(``--quick``: ``benchmarks/results/privacy_quick.*``, a smoke run that never overwrites a
measurement); the Privacy page's and the README's tables are generated from the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from networkfed.api import run_federated
from networkfed.core.errors import ConfigError
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from robustness_report import write_atomic, write_json

ROOT = Path(__file__).resolve().parent
CURVE = ROOT.parent / "docs" / "benchmarks" / "privacy.png"
"""The curve, where the Privacy page and the README show it."""
EPSILONS = (math.inf, 8.0, 4.0, 1.0)
DELTA = 1e-5
CLIP = 1.0
PARTITIONS = {
    "product_type": {"partition": "natural"},
    "dirichlet5": {"partition": "dirichlet", "num_sites": 5, "dirichlet_alpha": 0.5},
    "dirichlet30": {"partition": "dirichlet", "num_sites": 30, "dirichlet_alpha": 2.0},
}
MODES = {"product_type": ("client", "sample"), "dirichlet5": ("client", "sample"),
         "dirichlet30": ("client",)}
TRAINING: dict[str, Any] = {
    "local_epochs": 1, "class_weighting": "none",
    "hparams": {"batch_size": 256, "learning_rate": 0.003, "weight_decay": 0.0},
}


@dataclass(frozen=True)
class Cell:
    """One run: a federation, a DP mode (``none``: ε = ∞), a target ε and a seed."""

    partition: str
    mode: str
    epsilon: float
    seed: int


def plan(partitions: list[str], seeds: list[int]) -> list[Cell]:
    """Every cell: one ``none`` run per federation and seed, then each mode at each finite ε."""
    cells = []
    for partition in partitions:
        for seed in seeds:
            cells.append(Cell(partition, "none", math.inf, seed))
            cells += [Cell(partition, mode, eps, seed)
                      for mode in MODES[partition] for eps in EPSILONS if math.isfinite(eps)]
    return cells


def run_config(cell: Cell, rounds: int, data_path: Path) -> RunConfig:
    data = DataConfig(dataset="ai4i2020", data_path=data_path, sequence_length=1,
                      split="stratified", split_scope="pooled", test_fraction=0.2,
                      val_fraction=0.15, **PARTITIONS[cell.partition])
    dp = {} if cell.mode == "none" else {"dp": cell.mode, "dp_clip": CLIP,
                                         "dp_epsilon": cell.epsilon, "dp_delta": DELTA}
    return RunConfig(data=data, model="lstm", rounds=rounds, seed=cell.seed, workers=0,
                     min_fit_clients=1, **TRAINING, **dp)


def run_cell(cell: Cell, rounds: int, data_path: Path) -> dict[str, Any]:
    """One run's record (a refused target records the reason, with its numbers)."""
    logging.getLogger("networkfed").setLevel(logging.ERROR)
    record: dict[str, Any] = asdict(cell)
    started = time.perf_counter()
    try:
        result = run_federated(run_config(cell, rounds, data_path))
    except ConfigError as error:
        if cell.mode == "none":  # the reference itself cannot run: the benchmark is wrong
            raise
        return {**record, "status": "refused", "reason": str(error)}
    privacy = result.privacy
    record.update(status="done", f1=result.final["f1"], pr_auc=result.final["pr_auc"],
                  epsilon_spent=privacy.get("epsilon"),
                  noise_multiplier=privacy.get("noise_multiplier"),
                  clipped_fraction=privacy.get("clipped_fraction"),
                  seconds=round(time.perf_counter() - started, 1))
    return record


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± SD over seeds per (federation, mode, ε); refused cells keep their reason."""
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for record in records:
        key = (record["partition"], record["mode"], record["epsilon"])
        groups.setdefault(key, []).append(record)
    rows = []
    for (partition, mode, epsilon), group in groups.items():
        done = [r for r in group if r["status"] == "done"]
        row: dict[str, Any] = {"partition": partition, "mode": mode, "epsilon": epsilon,
                               "runs": len(done), "refused": len(group) - len(done)}
        if not done:
            row["reason"] = group[0].get("reason")
        for metric in ("f1", "pr_auc", "epsilon_spent", "noise_multiplier"):
            values = [r[metric] for r in done
                      if r.get(metric) is not None and math.isfinite(r[metric])]
            if values:
                row[f"{metric}_mean"] = statistics.fmean(values)
                row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """F1 against ε, one line per federation and mode (∞ drawn at the right edge)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ticks = [e for e in EPSILONS if math.isfinite(e)]
    edge = 16.0
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for partition in PARTITIONS:
        reference = [r for r in rows if r["partition"] == partition and r["mode"] == "none"]
        for mode in MODES[partition]:
            points = sorted((r["epsilon"], r["f1_mean"]) for r in rows
                            if r["partition"] == partition and r["mode"] == mode
                            and "f1_mean" in r)
            points += [(edge, r["f1_mean"]) for r in reference if "f1_mean" in r]
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker="o", label=f"{partition}, {mode} DP")
    axis.set_xscale("log", base=2)
    axis.set_xticks([*ticks, edge], [*(f"{e:g}" for e in ticks), "∞"])
    axis.set_xlabel("ε (δ = 1e-5)")
    axis.set_ylabel("test F1 (mean of seeds)")
    axis.set_title("AI4I 2020, LSTM: utility against privacy")
    axis.legend(fontsize=8)
    figure.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=110)
    plt.close(figure)
    os.replace(tmp, path)


def main() -> None:
    args = _arguments()
    stem = "privacy_quick" if args.quick else "privacy"
    json_path = ROOT / "results" / f"{stem}.json"
    curve = json_path.with_suffix(".png") if args.quick else CURVE
    if args.tabulate:
        document = json.loads(json_path.read_text(encoding="utf-8"))
        plot(document["summary"], curve)
        return
    cells = plan(args.partitions, args.seeds)
    partial = json_path.with_suffix(".partial.jsonl")
    records = _finished(partial, cells, args.rounds)
    todo = [c for c in cells if asdict(c) not in [_cell_of(r) for r in records]]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_cell, cell, args.rounds, args.data_path) for cell in todo]
        for done, future in enumerate(as_completed(futures), len(records) + 1):
            record = {**future.result(), "rounds": args.rounds}
            records.append(record)
            with partial.open("a", encoding="utf-8") as file:  # a crash keeps what ran
                file.write(json.dumps(record) + "\n")
            print(f"[{done}/{len(cells)}] {record['partition']} {record['mode']} "
                  f"ε={record['epsilon']} seed {record['seed']}: {record['status']} "
                  f"F1 {record.get('f1', float('nan')):.3f}", flush=True)
    records.sort(key=lambda r: (r["partition"], r["mode"], -r["epsilon"], r["seed"]))
    summary = summarise(records)
    document = {
        "benchmark": "privacy", "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["benchmarks/privacy.py", *sys.argv[1:]]),
        "commit": _commit(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "rounds": args.rounds, "delta": DELTA, "clip": CLIP, "training": TRAINING,
        "seconds": round(time.perf_counter() - started, 1),
        "records": records, "summary": summary,
    }
    write_json(json_path, document)
    plot(summary, curve)
    write_atomic(json_path.with_suffix(".log"), f"{len(records)} runs in "
                 f"{document['seconds']} s\n")
    partial.unlink(missing_ok=True)
    print(f"wrote {json_path} and {curve}")


def _cell_of(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in ("partition", "mode", "epsilon", "seed")}


def _finished(partial: Path, cells: list[Cell], rounds: int) -> list[dict[str, Any]]:
    """Records of an interrupted run of the same plan (same rounds), to continue from."""
    if not partial.is_file():
        return []
    wanted = [asdict(cell) for cell in cells]
    lines = partial.read_text(encoding="utf-8").splitlines()
    found = [json.loads(line, parse_constant=float) for line in lines if line.strip()]
    return [r for r in found if r.get("rounds") == rounds and _cell_of(r) in wanted]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: product-type sites, one seed, 2 rounds")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--partitions", default=",".join(PARTITIONS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tabulate", action="store_true",
                        help="redraw the curve from the results file")
    parser.add_argument("--data-dir", type=Path, default=Path(
        os.environ.get("NETWORKFED_DATA_DIR", ROOT.parent.parent / "shared" / "data")))
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.partitions = args.partitions.split(",")
    if args.quick:
        args.seeds, args.rounds, args.partitions = [0], 2, ["product_type"]
    args.data_path = args.data_dir / "ai4i2020" / "ai4i2020.csv"
    if not args.data_path.is_file():
        parser.error(f"{args.data_path} not found (pass --data-dir)")
    return args


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
