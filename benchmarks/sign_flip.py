"""The sign-flip scenario: plain FedAvg against the remedies the health findings suggest.

    .venv/bin/python benchmarks/sign_flip.py [--seeds 1 2 3] [--remedies fedavg fedper fedbn]

Runs ``networkfed simulate --sites sign-flip`` with the defaults (CNN, FedAvg, 10 rounds x 3
local epochs) once per seed and remedy (``fedper`` adds ``--fedper``, ``fedbn`` ``--fedbn``)
through the Python API, and records the final model's overall and per-site test F1 / PR-AUC /
ROC-AUC, the trivial references and the health findings. Nothing is chosen on test data:
every run is the final round of a fixed recipe. Writes ``benchmarks/results/sign_flip.json``
and the Markdown table the README quotes, ``benchmarks/results/sign_flip.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path
from typing import Any

from networkfed.api import run_federated
from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig
from networkfed.monitoring.files import atomic_write_text
from networkfed.monitoring.run_writer import jsonable

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "sign_flip.json"
TABLE = RESULT.with_suffix(".md")
REMEDY_FLAGS = {"fedavg": {}, "fedper": {"fedper": True}, "fedbn": {"fedbn": True}}


def one_run(remedy: str, seed: int) -> dict[str, Any]:
    """One default-recipe run on the sign-flip sites: final metrics, references, findings."""
    config = RunConfig(data=DataConfig(sites=("sign-flip",)), seed=seed, **REMEDY_FLAGS[remedy])
    result = run_federated(config)
    summary = result.summary()
    return jsonable({
        "remedy": remedy, "seed": seed, "best_round": summary["best_round"],
        "final": {k: summary["final"][k] for k in ("f1", "pr_auc", "roc_auc")},
        "per_site_f1": {site: m["f1"] for site, m in summary["per_site"].items()},
        "references": summary["references"],
        "findings": [f["code"] for f in summary["findings"]],
    })


def table(runs: list[dict[str, Any]]) -> str:
    """Mean over seeds per remedy, with the seeds flagged by the health check."""
    lines = ["| recipe | seeds | F1 | PR-AUC | ROC-AUC | F1 per site (heat / cold / mild) | "
             "runs with findings |", "|---|---|---|---|---|---|---|"]
    for remedy in dict.fromkeys(run["remedy"] for run in runs):
        mine = [run for run in runs if run["remedy"] == remedy]
        mean = {k: statistics.mean(run["final"][k] for run in mine)
                for k in ("f1", "pr_auc", "roc_auc")}
        sites = list(mine[0]["per_site_f1"])
        per_site = " / ".join(f"{statistics.mean(r['per_site_f1'][s] for r in mine):.3f}"
                              for s in sites)
        flagged = sum(1 for run in mine if run["findings"])
        codes = sorted({code for run in mine for code in run["findings"]})
        lines.append(f"| {remedy} | {len(mine)} | {mean['f1']:.3f} | {mean['pr_auc']:.3f} | "
                     f"{mean['roc_auc']:.3f} | {per_site} | {flagged} of {len(mine)}"
                     f"{' (' + ', '.join(codes) + ')' if codes else ''} |")
    first = [run for run in runs if run["remedy"] == runs[0]["remedy"]]
    refs = [run["references"]["overall"] for run in first]
    f1, pr_auc = (statistics.mean(ref[k] for ref in refs) for k in ("f1", "pr_auc"))
    sites = list(first[0]["references"]["per_site"])
    per_site = " / ".join(
        f"{statistics.mean(r['references']['per_site'][s]['f1'] for r in first):.3f}"
        for s in sites)
    lines.append(f"| trivial reference | {len(first)} | {f1:.3f} (always alarm) | {pr_auc:.3f} | "
                 f"0.500 | {per_site} (always alarm) | |")
    return "\n".join(lines) + "\n"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--remedies", nargs="+", default=list(REMEDY_FLAGS),
                        choices=list(REMEDY_FLAGS))
    parser.add_argument("--table-only", action="store_true",
                        help="rewrite sign_flip.md from sign_flip.json without running")
    args = parser.parse_args()
    if args.table_only:
        write_table(json.loads(RESULT.read_text(encoding="utf-8"))["runs"])
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    runs = [one_run(remedy, seed) for remedy in args.remedies for seed in args.seeds]
    document = {"command": "benchmarks/sign_flip.py", "seeds": args.seeds,
                "commit": _commit(), "runs": runs}
    atomic_write_text(RESULT, json.dumps(document, indent=2) + "\n")
    write_table(runs)


def write_table(runs: list[dict[str, Any]]) -> None:
    """``sign_flip.md`` from the runs (``--table-only``: from the saved results file)."""
    atomic_write_text(TABLE, table(runs))
    print(table(runs))


if __name__ == "__main__":
    main()
