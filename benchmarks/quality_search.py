"""Selection stage of the quality benchmark: every choice, made on tuning seeds' validation data.

    .venv/bin/python benchmarks/quality_search.py [--quick] [--workers 2] [--data-dir DIR]
                                                  [--only SCENARIO ...] [--models MODEL ...]

For every scenario of ``quality_protocols.SCENARIOS``, model and tuning seed it trains each
settings candidate with FedAvg and ``baselines=True`` (so the federated, centralized and
local-only models of a candidate cost one run) and each other strategy / per-site layers at
the first settings candidate. :mod:`quality_selection` then chooses, by one rule on mean
validation metrics: the settings per (scenario, model, mode), the federated strategy, and
the scenario's best federated model. Test metrics are dropped before anything is written.

Writes ``benchmarks/results/quality_selection.json`` (every candidate's per-seed validation
metrics, the choices, the commit and package source hash) and ``quality_selection.md``;
``--quick`` (one seed, 2 rounds x 1 epoch) writes ``quality_selection_quick.*`` instead.
``benchmarks/quality.py`` reads the result to run the chosen configurations on held-out
seeds.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from networkfed.monitoring.run_writer import jsonable
from provenance import provenance
from quality_protocols import SCENARIOS, Experiment, Scenario, run_config
from quality_report import selection_markdown
from quality_runs import command_line, data_dir, merged_parts, run_all, write_atomic
from quality_selection import choose, mean_metric

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
logger = logging.getLogger("quality")


def selected(only: list[str] | None, models: list[str] | None) -> list[Scenario]:
    """The scenarios (and models) asked for; an unknown name is a usage error."""
    names = {s.name for s in SCENARIOS}
    unknown = sorted(set(only or ()) - names)
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(sorted(names))}")
    chosen = [s for s in SCENARIOS if not only or s.name in only]
    if models:
        chosen = [replace(s, models=tuple(m for m in s.models if m in models)) for s in chosen]
    return [s for s in chosen if s.models]


def tuning_seeds(scenario: Scenario, quick: bool) -> tuple[int, ...]:
    return scenario.tuning_seeds[:1] if quick else scenario.tuning_seeds


def plan(scenarios: list[Scenario], root: Path, quick: bool) -> list[Experiment]:
    """Every run of the search: settings candidates with baselines, other strategies at the
    first settings candidate."""
    experiments = []
    for scenario in scenarios:
        for model in scenario.models:
            candidates = list(scenario.settings[model].items())
            for seed in tuning_seeds(scenario, quick):
                for name, settings in candidates:
                    run = run_config(scenario, root, model, seed, settings, scenario.base,
                                     baselines=True, quick=quick)
                    experiments.append(Experiment(scenario.name, model, name, scenario.base.label,
                                                  seed,
                                                  "tuning", scenario.modes, run,
                                                  scenario.train_stride))
                if scenario.single_site:
                    continue
                base_name, base = candidates[0]
                for strategy in scenario.strategies_of(model):
                    if strategy.label == scenario.base.label:
                        continue
                    run = run_config(scenario, root, model, seed, base, strategy,
                                     baselines=False, quick=quick)
                    experiments.append(Experiment(scenario.name, model, base_name, strategy.label,
                                                  seed, "tuning", ("federated",), run,
                                                  scenario.train_stride))
    return experiments


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """Every numeric validation metric (classification now, RMSE for regression rows)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def candidate_table(records: list[dict[str, Any]], scenarios: list[Scenario], quick: bool
                    ) -> list[dict[str, Any]]:
    """One row per (scenario, model, mode, settings, strategy): per-seed validation metrics
    (a missing seed stays missing, so its mean is undefined) and their means."""
    groups: dict[tuple[str, ...], dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        groups[(r["scenario"], r["model"], r["mode"], r["settings"], r["strategy"])][r["seed"]] = r
    rows = []
    for scenario in scenarios:
        seeds = tuning_seeds(scenario, quick)
        for key, by_seed in groups.items():
            if key[0] != scenario.name:
                continue
            per_seed = [_numbers(by_seed[s]["validation"])
                        | {"best_round": by_seed[s].get("best_round")}
                        if s in by_seed else {} for s in seeds]
            keys = sorted({k for v in per_seed for k in v} - {"best_round"})
            rows.append({
                **dict(zip(("scenario", "model", "mode", "settings", "strategy"), key,
                           strict=True)),
                "seeds": list(seeds), "validation": per_seed,
                "validation_mean": {k: mean_metric(per_seed, k) for k in keys},
                "seconds_mean": mean_metric([{"s": by_seed[s]["seconds"]} for s in by_seed], "s"),
            })
    return sorted(rows, key=lambda r: declared_order(r, scenarios))


def declared_order(row: dict[str, Any], scenarios: list[Scenario]) -> tuple[int, ...]:
    """Scenario, model, mode, settings and strategy in declaration order (the rule's last
    tie-break is the first declared candidate)."""
    index = [s.name for s in scenarios].index(row["scenario"])
    scenario = scenarios[index]
    settings = list(scenario.settings[row["model"]])
    strategies = [s.label for s in scenario.strategies]
    return (index, scenario.models.index(row["model"]), scenario.modes.index(row["mode"]),
            settings.index(row["settings"]), strategies.index(row["strategy"])
            if row["strategy"] in strategies else -1)


def choices(rows: list[dict[str, Any]], scenarios: list[Scenario]) -> dict[str, Any]:
    """Per scenario: each model's chosen candidate per mode, and the best federated model."""
    out: dict[str, Any] = {}
    for scenario in scenarios:
        models: dict[str, dict[str, Any]] = {}
        for model in scenario.models:
            models[model] = {}
            for mode in scenario.modes:
                mine = {f"{r['settings']} | {r['strategy']}": r for r in rows
                        if (r["scenario"], r["model"], r["mode"]) == (scenario.name, model, mode)}
                if not mine:
                    continue
                name = choose({k: r["validation"] for k, r in mine.items()}, scenario.rule)
                models[model][mode] = {"settings": mine[name]["settings"],
                                       "strategy": mine[name]["strategy"],
                                       "validation_mean": mine[name]["validation_mean"],
                                       "validation": mine[name]["validation"]}
        primary = scenario.modes[0]
        finalists = {m: c[primary]["validation"] for m, c in models.items() if primary in c}
        best = choose(finalists, scenario.rule) if finalists else None
        out[scenario.name] = {"primary_mode": primary, "best_model": best, "models": models,
                              "rule": scenario.rule.describe(), "task": scenario.task}
    return out


def mark_chosen(rows: list[dict[str, Any]], chosen: dict[str, Any]) -> None:
    for row in rows:
        pick = chosen[row["scenario"]]["models"][row["model"]].get(row["mode"], {})
        row["chosen"] = (pick.get("settings"), pick.get("strategy")) == (row["settings"],
                                                                         row["strategy"])


def declarations(scenarios: list[Scenario]) -> dict[str, Any]:
    """What each candidate name meant when the search ran (``quality.py`` checks it)."""
    return {s.name: {"dataset": s.dataset, "partition": s.partition, "models": list(s.models),
                     "settings": s.settings, "tuning_seeds": list(s.tuning_seeds),
                     "strategies": {c.label: {"strategy": c.strategy, "options": c.options,
                                              "switches": c.switches} for c in s.strategies},
                     "train_stride": s.train_stride, "single_site": s.single_site,
                     "rule": s.rule.describe(), "task": s.task}
            for s in scenarios}


def merged(previous: dict[str, Any], document: dict[str, Any], names: set[str]
           ) -> dict[str, Any]:
    """``document`` (a search of the scenarios ``names``) with the other scenarios'
    declarations, choices and candidates of ``previous`` kept."""
    def others(mapping: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in mapping.items() if k not in names}

    return {**document,
            "scenarios": {**others(previous["scenarios"]), **document["scenarios"]},
            "choices": {**others(previous["choices"]), **document["choices"]},
            "candidates": [r for r in previous["candidates"] if r["scenario"] not in names]
            + document["candidates"],
            **merged_parts(previous, document, names)}


def main(argv: list[str] | None = None) -> int:
    def own(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--only", nargs="+", help="scenarios to search (default: all)")
        parser.add_argument("--models", nargs="+", help="models to search (default: all)")

    args = command_line(__doc__.splitlines()[0], argv, own)
    started = time.perf_counter()
    source = provenance(ROOT)  # before any run: the code that made the numbers
    scenarios = selected(args.only, args.models)
    experiments = plan(scenarios, data_dir(args.data_dir, ROOT), args.quick)
    logger.info("%d runs on %d worker(s)", len(experiments), args.workers)
    records, failures = run_all(experiments, args.workers)
    rows = candidate_table(records, scenarios, args.quick)
    chosen = choices(rows, scenarios)
    mark_chosen(rows, chosen)
    document = jsonable({
        "benchmark": "quality_selection", "quick": args.quick,
        "command": "benchmarks/quality_search.py" + (" --quick" if args.quick else ""),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_seconds": round(time.perf_counter() - started, 1), "workers": args.workers,
        "runs": len(experiments), "machine": {"platform": platform.platform(),
                                              "python": platform.python_version(),
                                              "torch": torch.__version__},
        "provenance": source, "scenarios": declarations(scenarios),
        "choices": chosen, "candidates": rows, "failures": failures,
    })
    folder = args.output or RESULTS
    name = "quality_selection_quick" if args.quick else "quality_selection"
    if args.only and (folder / f"{name}.json").is_file():
        previous = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        document = merged(previous, document, {s.name for s in scenarios})
    write_atomic(folder / f"{name}.json", json.dumps(document, indent=2, allow_nan=False) + "\n")
    write_atomic(folder / f"{name}.md", selection_markdown(document))
    for scenario, choice in chosen.items():
        logger.info("%s: best %s model %s", scenario, choice["primary_mode"], choice["best_model"])
    logger.info("wrote %s (%.0f s)", folder / f"{name}.json", document["elapsed_seconds"])
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
