"""The sign-flip scenario: plain FedAvg against the remedies the health findings suggest.

    .venv/bin/python benchmarks/sign_flip.py [--seeds 1 2 3] [--remedies fedavg fedper fedbn]

Runs ``networkfed simulate --sites sign-flip`` with the defaults (CNN, FedAvg, 10 rounds x 3
local epochs) once per seed and remedy (``fedper`` adds ``--fedper``, ``fedbn`` ``--fedbn``)
through the Python API, and records the final model's overall and per-site test F1 / PR-AUC /
ROC-AUC, the trivial references and the health findings. Nothing is chosen on test data:
every run is the final round of a fixed recipe. Writes ``benchmarks/results/sign_flip.json``
(the docs' table is generated from it: ``docs/docgen/benchmarks.py``).
"""

from __future__ import annotations

import argparse
import json
import os
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


def _line(run: dict[str, Any]) -> str:
    final, codes = run["final"], ", ".join(run["findings"]) or "none"
    return (f"{run['remedy']:7} seed {run['seed']}: F1 {final['f1']:.3f}  PR-AUC "
            f"{final['pr_auc']:.3f}  ROC-AUC {final['roc_auc']:.3f}  findings: {codes}")


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
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    runs = [one_run(remedy, seed) for remedy in args.remedies for seed in args.seeds]
    command = ("python benchmarks/sign_flip.py --seeds " + " ".join(map(str, args.seeds))
               + " --remedies " + " ".join(args.remedies))
    document = {"command": command, "seeds": args.seeds,
                "commit": _commit(), "runs": runs}
    atomic_write_text(RESULT, json.dumps(document, indent=2) + "\n")
    print("\n".join(_line(run) for run in runs))


if __name__ == "__main__":
    main()
