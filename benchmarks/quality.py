"""Failure-prediction quality on held-out seeds (issue #19); one command, JSON + Markdown.

    .venv/bin/python benchmarks/quality.py [--quick] [--workers 2] [--data-dir DIR]
                                           [--selection FILE] [--only SCENARIO ...]

Reads the choices of the selection stage (``benchmarks/results/quality_selection.json``,
written by ``benchmarks/quality_search.py`` from validation metrics of the tuning seeds) and
trains only the chosen configurations on the held-out seeds of each scenario
(``quality_protocols.SCENARIOS``): the scenario's best model in every mode (federated,
centralized and local-only, each with its own chosen settings), the other models in their
chosen federated configuration, plus a random forest and gradient-boosted trees with the
same validation-chosen threshold rule. Test metrics are only reported and checked against
the targets, never used to choose.

Writes ``benchmarks/results/quality.json`` (per-seed records with validation and test
metrics, aggregates, targets, the git commit and package source hash) and
``benchmarks/results/QUALITY.md``; ``--quick`` (one held-out seed, 2 rounds x 1 epoch)
writes ``quality_quick.*`` so it never overwrites a measurement.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from networkfed.monitoring.run_writer import jsonable
from provenance import (
    changed_files,
    combined_hash,
    package_files_loaded,
    provenance,
    restricted_to,
    source_hashes,
)
from quality_protocols import (
    SCENARIOS,
    TARGETS,
    Experiment,
    Scenario,
    StrategyCandidate,
    run_config,
    scenario_data,
)
from quality_report import aggregate, quality_markdown, target_checks
from quality_runs import FOREST_TREES, command_line, data_dir, merged_parts, run_all, write_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
logger = logging.getLogger("quality")


def load_selection(path: Path) -> dict[str, Any]:
    """The selection stage's result; a missing file names the command that writes it."""
    if not path.is_file():
        raise SystemExit(f"{path} not found: run benchmarks/quality_search.py first "
                         "(or pass --selection)")
    return json.loads(path.read_text(encoding="utf-8"))


def scenarios_of(selection: dict[str, Any], only: list[str] | None) -> list[Scenario]:
    """The declared scenarios the selection covers; a candidate whose declaration changed
    since the search means the choices are stale, so that is an error, not a guess."""
    declared = {s.name: s for s in SCENARIOS}
    out = []
    for name, recorded in selection["scenarios"].items():
        if only and name not in only:
            continue
        scenario = declared.get(name)
        if scenario is None:
            raise SystemExit(f"selection scenario {name!r} is no longer declared in "
                             "quality_protocols.py: rerun benchmarks/quality_search.py")
        for model in recorded["models"]:
            if recorded["settings"][model] != jsonable(scenario.settings.get(model)):
                raise SystemExit(f"{name} {model}: settings candidates changed since the "
                                 "search: rerun benchmarks/quality_search.py")
        out.append(scenario)
    return out


def _strategy(scenario: Scenario, label: str) -> StrategyCandidate:
    for candidate in scenario.strategies:
        if candidate.label == label:
            return candidate
    raise SystemExit(f"{scenario.name}: chosen strategy {label!r} is no longer declared: "
                     "rerun benchmarks/quality_search.py")


def held_out_seeds(scenario: Scenario, quick: bool) -> tuple[int, ...]:
    return scenario.held_out_seeds[:1] if quick else scenario.held_out_seeds


def model_runs(scenario: Scenario, model: str, picks: dict[str, Any], modes: tuple[str, ...]
               ) -> list[tuple[str, str, bool, tuple[str, ...]]]:
    """(settings, strategy, baselines, kept modes) per run: one FedAvg run with baselines
    per distinct centralized / local-only choice, the federated choice folded into one of
    them when it is FedAvg at the same settings, else a federated-only run."""
    if scenario.single_site:
        return [(picks["centralized"]["settings"], scenario.base.label, False,
                 ("centralized",))]
    with_baselines: dict[str, list[str]] = {}
    for mode in ("centralized", "local"):
        if mode in modes:
            with_baselines.setdefault(picks[mode]["settings"], []).append(mode)
    runs = []
    fed = picks.get("federated") if "federated" in modes else None
    base = scenario.base.label
    if fed is not None and fed["strategy"] == base and fed["settings"] in with_baselines:
        with_baselines[fed["settings"]].append("federated")
    elif fed is not None:
        runs.append((fed["settings"], fed["strategy"], False, ("federated",)))
    runs += [(s, base, True, tuple(kept)) for s, kept in with_baselines.items()]
    return runs


def plan(selection: dict[str, Any], scenarios: list[Scenario], root: Path, quick: bool
         ) -> list[Experiment]:
    """Every held-out run: the chosen configurations and the classical references."""
    experiments = []
    for scenario in scenarios:
        choice = selection["choices"][scenario.name]
        for seed in held_out_seeds(scenario, quick):
            if scenario.classical:
                experiments.append(Experiment(
                    scenario.name, "classical", "-", "-", seed, "held_out", ("classical",),
                    None, scenario.train_stride, data=scenario_data(scenario, root)))
            for model, picks in choice["models"].items():
                modes = scenario.modes if model == choice["best_model"] else scenario.modes[:1]
                for settings, label, baselines, kept in model_runs(scenario, model, picks,
                                                                   modes):
                    run = run_config(scenario, root, model, seed,
                                     scenario.settings[model][settings],
                                     _strategy(scenario, label), baselines=baselines,
                                     quick=quick)
                    experiments.append(Experiment(scenario.name, model, settings, label, seed,
                                                  "held_out", kept, run, scenario.train_stride))
    return experiments


def report(records: list[dict[str, Any]], failures: list[dict[str, Any]],
           selection: dict[str, Any], scenarios: list[Scenario], args: argparse.Namespace,
           seconds: float, runs: int, source: dict[str, Any]) -> dict[str, Any]:
    """The quality.json document; ``source``: the provenance taken before the runs."""
    names = {s.name for s in scenarios}
    document: dict[str, Any] = {
        "benchmark": "quality", "protocol": "held-out v2 (issue #19)", "quick": args.quick,
        "command": "benchmarks/quality.py" + (" --quick" if args.quick else ""),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "elapsed_seconds": round(seconds, 1),
        "workers": args.workers, "runs": runs,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "cpus": os.cpu_count()},
        "provenance": source,
        "selection": {"file": str(args.selection), "created_at": selection["created_at"],
                      "git_commit": selection["provenance"]["git_commit"],
                      "source_hash": selection["provenance"]["source_hash"],
                      "rule": next(iter(selection["choices"].values()))["rule"]},
        "held_out_seeds": {s.name: list(held_out_seeds(s, args.quick)) for s in scenarios},
        "random_forest_trees": FOREST_TREES,
        "choices": {k: v for k, v in selection["choices"].items() if k in names},
        "records": records, "failures": failures,
    }
    document["aggregates"] = aggregate(records)
    document["targets"] = target_checks(document, [t for t in TARGETS if t.scenario in names])
    return jsonable(document)


def merged(previous: dict[str, Any], document: dict[str, Any], names: set[str]
           ) -> dict[str, Any]:
    """``document`` (a run of the scenarios ``names``) with the other scenarios of
    ``previous`` kept, so one scenario can be (re)run on its own.

    Only when ``previous`` was made by the package source of this checkout (the files its
    runs imported are unchanged); otherwise its numbers are stale and everything must rerun.
    """
    recorded = previous.get("provenance") or {}
    current = source_hashes(ROOT)
    stale = changed_files(recorded.get("source_files", {}), current)
    if not recorded or stale:
        raise SystemExit("the existing quality.json was made by other package source "
                         f"({', '.join(stale) or 'no provenance'}): rerun every scenario")
    keep = [r for r in previous["records"] if r["scenario"] not in names]
    records = keep + document["records"]
    files = {**recorded["source_files"], **document["provenance"]["source_files"]}
    combined = {**document, "records": records,
                "choices": {**{k: v for k, v in previous["choices"].items() if k not in names},
                            **document["choices"]},
                "held_out_seeds": {**previous["held_out_seeds"], **document["held_out_seeds"]},
                "provenance": {**document["provenance"], "source_files": files,
                               "source_hash": combined_hash(files)},
                **merged_parts(previous, document, names)}
    combined["aggregates"] = aggregate(records)
    present = set(combined["choices"])
    combined["targets"] = target_checks(combined, [t for t in TARGETS if t.scenario in present])
    return jsonable(combined)


def main(argv: list[str] | None = None) -> int:
    def own(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--selection", type=Path,
                            default=RESULTS / "quality_selection.json",
                            help="the selection stage's result file")
        parser.add_argument("--only", nargs="+", help="scenarios to run (default: all selected)")

    args = command_line(__doc__.splitlines()[0], argv, own)
    started = time.perf_counter()
    source = provenance(ROOT)  # before any run: the code that made the numbers
    selection = load_selection(args.selection)
    scenarios = scenarios_of(selection, args.only)
    experiments = plan(selection, scenarios, data_dir(args.data_dir, ROOT), args.quick)
    logger.info("%d runs on %d worker(s)", len(experiments), args.workers)
    imported = package_files_loaded()
    records, failures = run_all(experiments, args.workers, imported)
    document = report(records, failures, selection, scenarios, args,
                      time.perf_counter() - started, len(experiments),
                      restricted_to(source, imported))
    folder = args.output or RESULTS
    json_name, md_name = ("quality_quick.json", "QUALITY_quick.md") if args.quick else (
        "quality.json", "QUALITY.md")
    if args.only and (folder / json_name).is_file():
        previous = json.loads((folder / json_name).read_text(encoding="utf-8"))
        document = merged(previous, document, {s.name for s in scenarios})
    write_atomic(folder / json_name, json.dumps(document, indent=2, allow_nan=False) + "\n")
    write_atomic(folder / md_name, quality_markdown(document, selection))
    for check in document["targets"]:
        logger.info("%s %s: %s", "MET   " if check["met"] else "MISSED", check["target"],
                    check["measured"])
    logger.info("wrote %s (%.0f s)", folder / json_name, document["elapsed_seconds"])
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
