"""What each strategy survives: every strategy x every attack x f attackers, on AI4I 2020.

    .venv/bin/python benchmarks/robustness.py [--quick] [--budget-minutes 60] [--workers 2]
        [--rounds N] [--models cnn,lstm] [--partitions dirichlet,iid] [--strategies ...]
        [--attacks ...] [--f 1,2,3] [--seeds 0,1,2]
        [--plan-only | --from-partial | --tabulate | --rerun-none]

AI4I 2020 (``--data-dir``, default ``../shared/data``) is split over 10 sites (Dirichlet(0.5)
label skew, and IID), rows as inputs, one stratified test split per seed drawn before
partitioning. Every cell is one federated run (:func:`networkfed.api.run_federated`, the
in-process engine) with ``f`` attackers chosen by the seed; the reported numbers are the
final global model's failure-class F1 (alarm threshold chosen on the honest sites'
validation data) and PR-AUC on the honest sites' test data, next to the same rule without
attack. The robust rules are told the true ``f`` (the threat model's bound): Krum, Multi-Krum
and Bulyan get ``num_malicious_clients = f``, Multi-Krum keeps ``n - f`` updates, the trimmed
mean cuts ``f`` sites at each end (``beta = f / n``); every other rule runs with its
defaults. A rule whose precondition fails (Bulyan needs ``n >= 4f + 3``) is recorded as
refused; a run that cannot finish (a non-finite global model) as failed, with its message.

Sizing: ``--rounds`` is fixed before any measured run, from time alone: a pilot times one
short run per model, and the largest number of rounds on :data:`ROUND_LADDER` whose
estimated total fits ``--budget-minutes`` is used (``--rounds`` overrides it). Nothing is
chosen on test (or validation) results. Writes ``benchmarks/results/robustness.json`` and
``robustness.md`` (``--quick``: ``robustness_quick.*``, a smoke run that never overwrites a
measurement); the documentation's robustness page is generated from the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from networkfed.api import run_federated
from networkfed.core.errors import ConfigError
from networkfed.data import DataConfig, load_federated_data
from networkfed.data.types import FederatedData
from networkfed.federated.attacks import choose_attackers
from networkfed.federated.callbacks import Callback
from networkfed.federated.config import RunConfig
from networkfed.federated.evaluation import SplitPredictions, evaluate_predictions, predict_failure
from networkfed.federated.results import RoundResult
from networkfed.federated.strategies import list_strategies
from robustness_report import load, markdown, write_atomic, write_json

ROOT = Path(__file__).resolve().parent
NUM_SITES = 10
ATTACKS = ("sign-flip", "gaussian", "scaling", "alie", "ipm", "label-flip", "nan", "stale")
ROUND_LADDER = (3, 5, 8, 10, 12, 15, 20)
"""Round counts the sizing may choose from (the largest that fits the time budget)."""
TRAINING: dict[str, Any] = {
    "local_epochs": 1, "class_weighting": "none",
    "hparams": {"batch_size": 256, "learning_rate": 0.003, "weight_decay": 0.0},
}
"""The quality benchmark's tuned AI4I settings (plain cross-entropy, batch 256, lr 0.003),
one local epoch a round so that the whole table fits its time budget."""
PILOT_ROUNDS = (1, 4)
SAFETY = 0.85
"""Share of the budget the estimate may fill (the rest absorbs noise on a shared machine)."""


@dataclass(frozen=True)
class Cell:
    """One run: a partition, model, strategy, attack (``none``), attacker count and seed."""

    partition: str
    model: str
    strategy: str
    attack: str
    f: int
    seed: int


def strategy_options(strategy: str, f: int) -> dict[str, float | int]:
    """The rule configured for ``f`` hostile sites of :data:`NUM_SITES` (see the module)."""
    if strategy in ("krum", "bulyan"):
        return {"num_malicious_clients": f}
    if strategy == "multikrum":
        return {"num_malicious_clients": f, "num_clients_to_keep": NUM_SITES - f}
    if strategy == "fedtrimmedavg":
        return {"beta": f / NUM_SITES}
    return {}


def run_config(cell: Cell, rounds: int, data_path: Path) -> RunConfig:
    data = DataConfig(dataset="ai4i2020", data_path=data_path, partition=cell.partition,
                      num_sites=NUM_SITES, dirichlet_alpha=0.5, sequence_length=1,
                      split_scope="pooled")
    attack = {} if cell.attack == "none" else {"attack": cell.attack, "attackers": cell.f}
    return RunConfig(data=data, model=cell.model, rounds=rounds, seed=cell.seed, workers=0,
                     strategy=cell.strategy, strategy_options=strategy_options(cell.strategy,
                                                                               cell.f),
                     **TRAINING, **attack)


@lru_cache(maxsize=8)
def _data(config_json: str, seed: int) -> FederatedData:
    return load_federated_data(DataConfig.model_validate_json(config_json), seed)


class _Rejections(Callback):
    """Counts the updates validation refused (the ``nan`` attack shows up here) and keeps the
    engine, whose final global model the no-attack runs score again (:func:`honest_scores`)."""

    def __init__(self) -> None:
        self.count, self.engine = 0, None

    def on_train_begin(self, engine: Any) -> None:
        self.engine = engine

    def after_round(self, result: RoundResult, notes: Any) -> None:
        self.count += len(result.rejected)


def honest_scores(model: torch.nn.Module, data: FederatedData, fs: list[int],
                  seed: int) -> dict[str, dict[str, float]]:
    """A no-attack model scored as each attacked run is: on the sites that stay honest when
    ``f`` attack (same seeded choice), threshold from their validation data. Without this the
    reference would be scored on all 10 sites and the attacked runs on 10 - f, and under label
    skew which sites are scored moves F1 as much as an attack does."""
    scores = {}
    for f in fs:
        attackers = set(choose_attackers(data.site_ids, f, seed))
        honest = [s for s in data.site_ids if s not in attackers]
        splits = [{s: SplitPredictions(getattr(data.sites[s], split).y.numpy(),
                                       predict_failure(model, getattr(data.sites[s], split).x))
                   for s in honest} for split in ("val", "test")]
        overall = evaluate_predictions(*splits).overall
        scores[str(f)] = {"f1": overall["f1"], "pr_auc": overall["pr_auc"]}
    return scores


def run_cell(cell: Cell, rounds: int, data_path: str, fs: tuple[int, ...] = ()
             ) -> dict[str, Any]:
    """One run's record (``status``: done, refused or failed); a no-attack run also scores
    its model on the honest sites of each of ``fs`` attackers (``honest``)."""
    torch.set_num_threads(1)
    record: dict[str, Any] = {**asdict(cell), "rounds": rounds}
    started = time.perf_counter()
    try:
        config = run_config(cell, rounds, Path(data_path))
        counter = _Rejections()
        data = _data(config.data.model_dump_json(), cell.seed)
        result = run_federated(config, data, callbacks=[counter])
        record.update(status="done", f1=result.final["f1"], pr_auc=result.final["pr_auc"],
                      rejected=counter.count, attackers=result.attack.get("attackers", []))
        if cell.attack == "none" and counter.engine is not None:
            fs_here = [cell.f] if cell.f else list(fs)
            record["honest"] = honest_scores(counter.engine.model.model, data, fs_here,
                                             cell.seed)
    except ConfigError as error:
        record.update(status="refused", error=str(error))
    except Exception as error:  # a rule that breaks down (non-finite model) is a result
        record.update(status="failed", error=f"{type(error).__name__}: {error}"[:300])
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


def plan(args: argparse.Namespace) -> list[Cell]:
    """Every cell; no-attack runs of rules that ignore ``f`` are run once (f = 0)."""
    cells: dict[Cell, None] = {}
    for partition in args.partitions:
        for model in args.models:
            for strategy in args.strategies:
                for seed in args.seeds:
                    for f in args.f:
                        none_f = f if strategy_options(strategy, f) else 0
                        cells[Cell(partition, model, strategy, "none", none_f, seed)] = None
                        for attack in args.attacks:
                            cells[Cell(partition, model, strategy, attack, f, seed)] = None
    return list(cells)


def choose_rounds(args: argparse.Namespace, cells: list[Cell]) -> tuple[int, dict[str, Any]]:
    """Rounds from the time budget alone: pilot runs per model, then the ladder."""
    if args.rounds:
        return args.rounds, {"given": args.rounds}
    pilot: dict[str, dict[str, float]] = {}
    for model in args.models:
        cell = Cell(args.partitions[0], model, "fedavg", "none", 0, args.seeds[0])
        run_cell(cell, 1, str(args.data_path))  # warm-up: imports, first-call costs
        times = [run_cell(cell, r, str(args.data_path))["seconds"] for r in PILOT_ROUNDS]
        per_round = max((times[1] - times[0]) / (PILOT_ROUNDS[1] - PILOT_ROUNDS[0]), 1e-3)
        pilot[model] = {"per_round": per_round, "fixed": max(times[0] - per_round, 0.0)}
    budget = args.budget_minutes * 60 * SAFETY * max(args.workers, 1)
    chosen = ROUND_LADDER[0]
    for rounds in ROUND_LADDER:
        estimate = sum(pilot[c.model]["fixed"] + rounds * pilot[c.model]["per_round"]
                       for c in cells)
        if estimate <= budget:
            chosen = rounds
    return chosen, {"pilot_seconds": pilot, "budget_minutes": args.budget_minutes,
                    "ladder": list(ROUND_LADDER)}


def run_all(cells: list[Cell], rounds: int, args: argparse.Namespace,
            partial: Path) -> list[dict[str, Any]]:
    """Every cell's record; each is also appended to ``partial`` as it arrives, so that a
    run stopped early still leaves what it measured (``--from-partial`` tabulates it)."""
    records = []
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text("")
    with ProcessPoolExecutor(max_workers=max(args.workers, 1)) as pool, partial.open("a") as out:
        futures = [pool.submit(run_cell, c, rounds, str(args.data_path), tuple(args.f))
                   for c in cells]
        for done, future in enumerate(as_completed(futures), 1):
            records.append(future.result())
            out.write(json.dumps(records[-1]) + "\n")
            out.flush()
            if done % 50 == 0 or done == len(futures):
                logging.info("%d / %d runs", done, len(futures))
    return sorted(records, key=lambda r: tuple(str(r[k]) for k in asdict(cells[0])))


def _sorted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: tuple(str(r[k]) for k in Cell.__dataclass_fields__))


def _list(text: str, cast: type = str) -> list:
    return [cast(part.strip()) for part in text.split(",") if part.strip()]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny subset, 2 rounds")
    parser.add_argument("--data-dir", type=Path, default=Path(
        os.environ.get("NETWORKFED_DATA_DIR") or ROOT.parent.parent / "shared" / "data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget-minutes", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, help="fix the rounds (default: sized to budget)")
    parser.add_argument("--models", type=_list, default=["cnn", "lstm"])
    parser.add_argument("--partitions", type=_list, default=["dirichlet", "iid"])
    parser.add_argument("--strategies", type=_list, default=list_strategies())
    parser.add_argument("--attacks", type=_list, default=list(ATTACKS))
    parser.add_argument("--f", type=lambda t: _list(t, int), default=[1, 2, 3])
    parser.add_argument("--seeds", type=lambda t: _list(t, int), default=[0, 1, 2])
    parser.add_argument("--rerun-none", action="store_true",
                        help="run only the no-attack cells again and replace them in the "
                             "saved results")
    parser.add_argument("--tabulate", action="store_true",
                        help="rewrite the tables from the saved results; run nothing")
    parser.add_argument("--from-partial", action="store_true",
                        help="tabulate the records a stopped run left (marked partial)")
    parser.add_argument("--plan-only", action="store_true",
                        help="print the number of runs and the sized rounds, run nothing")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.partitions, args.seeds, args.f = ["cnn"], ["dirichlet"], [0], [1]
        args.strategies = ["fedavg", "fedmedian", "krum", "bulyan"]
        args.rounds = args.rounds or 2
    args.data_path = args.data_dir / "ai4i2020" / "ai4i2020.csv"
    if not args.data_path.is_file():
        parser.error(f"{args.data_path} not found (pass --data-dir)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("networkfed").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    cells = plan(args)
    stem = "robustness_quick" if args.quick else "robustness"
    partial = ROOT / "results" / f"{stem}.partial.jsonl"
    if args.tabulate:  # the tables again from the saved result document
        return _tabulate(load(ROOT / "results" / f"{stem}.json"), stem)
    if args.rerun_none:
        return _rerun_none(load(ROOT / "results" / f"{stem}.json"), cells, args, stem, partial)
    if args.from_partial:
        records = _sorted([json.loads(line) for line in partial.read_text().splitlines() if line])
        rounds, sizing = records[0]["rounds"], {"partial": f"{len(records)} of {len(cells)}"}
    else:
        rounds, sizing = choose_rounds(args, cells)
        logging.info("%d runs of %d rounds (sizing: %s)", len(cells), rounds, sizing)
        if args.plan_only:
            return 0
        records = run_all(cells, rounds, args, partial)
    document = {
        "benchmark": "robustness", "quick": args.quick, "complete": len(records) == len(cells),
        "command": " ".join(["benchmarks/robustness.py", *(argv or sys.argv[1:])]),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": _commit(),
        "elapsed_seconds": None if args.from_partial else round(time.perf_counter() - started, 1),
        "workers": args.workers, "rounds": rounds, "sizing": sizing,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "cpus": os.cpu_count()},
        "settings": {"num_sites": NUM_SITES, "dirichlet_alpha": 0.5, "training": TRAINING,
                     "models": args.models, "partitions": args.partitions,
                     "strategies": args.strategies, "attacks": args.attacks, "f": args.f,
                     "seeds": args.seeds},
        "records": records,
    }
    write_json(ROOT / "results" / f"{stem}.json", document)
    _tabulate(document, stem)
    if not args.from_partial:
        partial.unlink(missing_ok=True)
    logging.info("done: results/%s.json", stem)
    return 0


def _rerun_none(document: dict[str, Any], cells: list[Cell], args: argparse.Namespace,
                stem: str, partial: Path) -> int:
    """The saved document with its no-attack records run again (same rounds) and replaced."""
    none = [c for c in cells if c.attack == "none"]
    started = time.perf_counter()
    fresh = run_all(none, document["rounds"], args, partial)
    kept = [r for r in document["records"] if r["attack"] != "none"]
    document["records"] = _sorted(kept + fresh)
    document["rerun_none"] = {"command": " ".join(["benchmarks/robustness.py", *sys.argv[1:]]),
                              "runs": len(fresh), "commit": _commit(),
                              "elapsed_seconds": round(time.perf_counter() - started, 1)}
    write_json(ROOT / "results" / f"{stem}.json", document)
    partial.unlink(missing_ok=True)
    return _tabulate(document, stem)


def _tabulate(document: dict[str, Any], stem: str) -> int:
    """``<stem>.md`` from ``document`` (the documentation site reads the JSON itself)."""
    write_atomic(ROOT / "results" / f"{stem}.md", markdown(document))
    return 0


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


if __name__ == "__main__":
    raise SystemExit(main())
