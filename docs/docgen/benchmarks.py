"""Benchmark tables generated from the result files in ``benchmarks/results``.

Every number on the Benchmarks pages (and the README's results table, which a test compares
with :func:`headline_table`) is read from a JSON file a benchmark script wrote; nothing is
typed by hand. Each table names the file it comes from and when that file was written.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["GENERATORS", "headline_table", "load_result", "privacy_headline"]

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
SITES = {"product_type": "product type L / M / H", "dirichlet": "Dirichlet(0.5), 5 sites",
         "subsets": "FD001–FD004 as 4 sites", "single_site": "FD001 alone (one site)"}


def load_result(name: str) -> dict[str, Any]:
    """``benchmarks/results/<name>.json``, parsed."""
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def _num(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _mean_sd(record: Mapping[str, Any], metric: str) -> str:
    return f"{_num(record[f'{metric}_mean'])} ± {_num(record[f'{metric}_std'])}"


def _source(name: str, data: Mapping[str, Any], stamp_key: str | None = None) -> str:
    stamp = f", written {data[stamp_key]}" if stamp_key and stamp_key in data else ""
    command = data.get("command")
    run = f"; `{command.strip()}`" if command else ""
    return f"*Source: `benchmarks/results/{name}.json`{stamp}{run}.*\n"


# --- quality ---------------------------------------------------------------------------------


def _quality_report():  # type: ignore[no-untyped-def]
    """The benchmark's own table code (``benchmarks/quality_report.py``), one definition."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import quality_report

    return quality_report


REGENERATING = ("*Regenerating: `benchmarks/results/quality.json` predates the held-out "
                "protocol of issue #19 (no validation metrics, no provenance); "
                "`benchmarks/quality.py` rewrites it.*\n")


NOT_SEARCHED = ("*Not run yet: `benchmarks/quality_search.py` writes "
                "`benchmarks/results/quality_selection.json`.*\n")
PENDING = (REGENERATING, NOT_SEARCHED)
"""What a quality block says instead of a table until the benchmark has written its file."""


def _is_held_out(quality: Mapping[str, Any]) -> bool:
    return "provenance" in quality and "aggregates" in quality


def headline_table(quality: Mapping[str, Any] | None = None) -> str:
    """One row per scenario: the validation-chosen best model on held-out seeds against the
    same model centralized and local-only, the tree baselines, and the targets (README)."""
    quality = quality or load_result("quality")
    if not _is_held_out(quality):
        return REGENERATING
    return _quality_report().headline_table(quality)


def _quality_source(quality: Mapping[str, Any]) -> str:
    prov = quality.get("provenance", {})
    stamp = (f" Commit {str(prov.get('git_commit'))[:12]}, package source hash "
             f"{str(prov.get('source_hash'))[:12]}." if prov else "")
    return _source("quality", quality, "created_at") + (f"\n*{stamp.strip()}*\n" if stamp else "")


def _quality_headline() -> str:
    quality = load_result("quality")
    if not _is_held_out(quality):
        return REGENERATING
    return headline_table(quality) + "\n" + _quality_source(quality)


def _quality_records() -> str:
    quality = load_result("quality")
    if not _is_held_out(quality):
        return REGENERATING
    machine = quality["machine"]
    return (_quality_report().results_table(quality) + "\n" + _quality_source(quality)
            + f"\n*{quality['elapsed_seconds'] / 60:.0f} minutes, {quality['runs']} runs on "
            f"{machine['cpus']} CPUs ({quality['workers']} workers), Python {machine['python']}, "
            f"torch {machine['torch']}.*\n")


def _quality_targets() -> str:
    quality = load_result("quality")
    if not _is_held_out(quality):
        return REGENERATING
    return _quality_report().targets_table(quality) + "\n" + _quality_source(quality)


def _quality_protocol() -> str:
    quality = load_result("quality")
    if not _is_held_out(quality):
        return REGENERATING
    return _quality_report().protocol_text(quality)


def _quality_selection() -> str:
    path = RESULTS / "quality_selection.json"
    if not path.is_file():
        return NOT_SEARCHED
    report = _quality_report()
    selection = load_result("quality_selection")
    return ("## Choices\n\n" + report.choices_table(selection)
            + "\n## Every candidate (validation metrics of the tuning seeds)\n\n"
            + report.selection_table(selection) + "\n## What was tried\n\n"
            + report.candidates_tried(selection) + "\n"
            + report.stamp(selection, "quality_selection"))


# --- speed ---------------------------------------------------------------------------------


def _engine_speed(name: str) -> str:
    result = load_result(name)
    lines = ["| model | rounds | training examples | FLOPs per example | engine (s) | "
             "engine + run folder and report (s) | reference loop (s) | speed-up | "
             "engine: share of matmul peak | reference: share |", "|---|" * 1 + "---|" * 9]
    for model, m in result["models"].items():
        lines.append(
            f"| {model} | {m['rounds']} | {m['training_examples']:,} | "
            f"{m['flops_per_training_example'] / 1e6:.2f} M | {m['engine_seconds']:.2f} | "
            f"{m['engine_with_run_folder_seconds']:.2f} | {m['reference_seconds']:.2f} | "
            f"**{m['speedup_vs_reference']:.2f}x** | {m['compute_fraction']:.1%} | "
            f"{m['reference_compute_fraction']:.1%} |")
    loads = result["machine"]["load_average_before"]
    note = f" Note: {result['note']}." if "note" in result else ""
    return ("\n".join(lines) + f"\n\nMatmul peak measured in the same run: "
            f"{result['matmul_gflops']:.0f} GFLOP/s; {result['machine']['cpus']} CPUs, torch "
            f"{result['machine']['torch']}, load average before {loads[0]:.1f}.{note}\n\n"
            + _source(name, result))


def _engine_vs_flower() -> str:
    result = load_result("engine_vs_flower")
    targets = result["targets"]
    scenarios = {"default": ("default: 3 sites, 10 rounds x 3 local epochs", "speedup_default"),
                 "sites_1000": ('1,000 sites (`partition="iid"`, `num_sites=1000`, one reading per '
                                'window), 3 rounds x 3 local epochs', "speedup_1000_sites")}
    lines = ["| scenario | in-process engine | Flower simulation (Ray) | Flower / in-process | "
             "target |", "|---|---|---|---|---|"]
    for key, (label, target_key) in scenarios.items():
        s = result[key]

        def cell(engine: str, s: Mapping[str, Any] = s) -> str:
            e = s[engine]
            each = e["wall_seconds_each"]
            spread = f" (median of {len(each)}: {min(each):.1f}–{max(each):.1f})" if len(
                each) > 1 else ""
            return (f"{e['wall_seconds']:.1f} s{spread}, PSS {e['peak_pss_gb']:.2f} GB "
                    f"(RSS sum {e['peak_rss_gb']:.2f})")

        met = "met" if s["speedup"] >= targets[target_key] else "missed"
        lines.append(f"| {label} | {cell('inprocess')} | {cell('flower')} | "
                     f"**{s['speedup']:.2f}x** | ≥ {targets[target_key]:g}x: {met} |")
    f1 = "; ".join(f"{short}: {result[key]['inprocess']['final_f1']:.4f} "
                   f"and {result[key]['flower']['final_f1']:.4f}"
                   for key, short in (("default", "default"), ("sites_1000", "1,000 sites")))
    return ("\n".join(lines) + f"\n\nFinal F1, in-process and Flower ({f1}). In-process peak "
            f"memory at 1,000 sites: "
            f"{result['inprocess_peak_gb_1000_sites']:.2f} GB PSS (target < "
            f"{targets['inprocess_peak_gb_1000']:g} GB).\n\n" + _source("engine_vs_flower", result))


def _data_speed() -> str:
    result = load_result("data_speed")
    labels = {
        "cmapss_fd001_fd004": "C-MAPSS FD001–FD004 read, validated, normalised and windowed",
        "synthetic_generate_30000_rows": "built-in telemetry, 30,000 rows generated",
        "synthetic_load_3x10000_rows":
            "built-in telemetry, `load_federated_data` on 3 × 10,000 rows",
        "ai4i2020_load_10000_rows": "AI4I 2020, `load_federated_data`"}
    lines = ["| what | seconds (median) | seconds (min) | peak memory |", "|---|---|---|---|"]
    for key, label in labels.items():
        r = result[key]
        if "rows" in r:
            label += f" ({r['rows']:,} rows, {r['windows']:,} windows)"
        lines.append(f"| {label} | {r['seconds_median']:.3f} | {r['seconds_min']:.3f} | "
                     f"{r['peak_memory_mib']:.0f} MiB |")
    env = result["environment"]
    return ("\n".join(lines) + f"\n\nMedian of {env['repeats']}, {env['cpu_count']} CPUs, "
            f"Python {env['python']}, NumPy {env['numpy']}.\n\n" + _source("data_speed", result))


def _tune_speed() -> str:
    result = load_result("tune_speed")
    lines = ["| pruning | trials per hour | rounds trained | pruned | seconds | "
             "seconds per round | best validation F1 |", "|---|---|---|---|---|---|---|"]
    per_trial = result["workload"]["rounds_per_trial"]
    for s in result["studies"]:
        lines.append(
            f"| {'on (MedianPruner)' if s['pruning'] else 'off (`--no-pruning`)'} | "
            f"{s['trials_per_hour']:.1f} | {s['rounds_trained']} of {s['trials'] * per_trial} | "
            f"{s['pruned']} of {s['trials']} | {s['seconds']:.0f} | {s['seconds_per_round']:.2f} | "
            f"{s['best_val_f1']:.3f} |")
    same = "yes" if result["same_points_in_both_studies"] else "no"
    return ("\n".join(lines) + f"\n\nTrials per hour, pruning on / off: "
            f"{result['speedup_from_pruning']:.2f}x. Both studies drew the same points: {same}. "
            f"Workload: {result['workload']['model']}, {result['workload']['rounds_per_trial']} "
            f"rounds per trial, {result['workload']['train_windows']:,} training windows.\n\n"
            + _source("tune_speed", result, "measured_at"))


def _sign_flip() -> str:
    """FedAvg and the remedies on the sign-flip scenario, mean over seeds, with the findings."""
    result = load_result("sign_flip")
    runs = result["runs"]
    lines = ["| recipe | seeds | F1 | PR-AUC | ROC-AUC | F1 per site | runs with findings |",
             "|---|---|---|---|---|---|---|"]
    by_recipe: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_recipe[run["remedy"]].append(run)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    for recipe, mine in by_recipe.items():
        final = {k: mean([r["final"][k] for r in mine]) for k in ("f1", "pr_auc", "roc_auc")}
        sites = " / ".join(f"{site} {mean([r['per_site_f1'][site] for r in mine]):.3f}"
                           for site in mine[0]["per_site_f1"])
        codes = sorted({code for r in mine for code in r["findings"]})
        flagged = f"{sum(1 for r in mine if r['findings'])} of {len(mine)}"
        lines.append(f"| {recipe} | {len(mine)} | {final['f1']:.3f} | {final['pr_auc']:.3f} | "
                     f"{final['roc_auc']:.3f} | {sites} | {flagged}"
                     f"{' (' + ', '.join(codes) + ')' if codes else ''} |")
    first = by_recipe[runs[0]["remedy"]]
    refs = [r["references"] for r in first]
    sites = " / ".join(f"{site} {mean([ref['per_site'][site]['f1'] for ref in refs]):.3f}"
                       for site in refs[0]["per_site"])
    lines.append(f"| trivial reference (always alarm; chance) | {len(first)} | "
                 f"{mean([ref['overall']['f1'] for ref in refs]):.3f} | "
                 f"{mean([ref['overall']['pr_auc'] for ref in refs]):.3f} | 0.500 | {sites} | |")
    return "\n".join(lines) + "\n\nMean over seeds " + ", ".join(map(str, result["seeds"])) + \
        ".\n\n" + _source("sign_flip", result)


# --- robustness ----------------------------------------------------------------------------


def _robustness_report():  # type: ignore[no-untyped-def]
    """The benchmark's own table code (``benchmarks/robustness_report.py``), one definition."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import robustness_report

    return robustness_report


def _robustness_summary() -> str:
    result = load_result("robustness")
    settings = result["settings"]
    minutes = result.get("elapsed_seconds")
    ran = (f"{result['rounds']} rounds, models {', '.join(settings['models'])}, partitions "
           f"{', '.join(settings['partitions'])}, f = {settings['f']}, seeds {settings['seeds']}"
           + (f", {minutes / 60:.0f} min" if minutes else ""))
    return (_robustness_report().summary_table(result) + f"\n\nRun: {ran}.\n\n"
            + _source("robustness", result, "created_at"))


def _robustness_tables() -> str:
    result = load_result("robustness")
    return _robustness_report().tables(result) + "\n" + _source("robustness", result)


# --- privacy -------------------------------------------------------------------------------

PRIVACY_SITES = {"product_type": "product type (3 sites)", "dirichlet5": "Dirichlet, 5 sites",
                 "dirichlet30": "Dirichlet, 30 sites"}


def _eps(value: float | None) -> str:
    return "∞" if value is None or not math.isfinite(value) else f"{value:g}"


def _privacy_rows(result: Mapping[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(federation, mode, ε) -> summary row; ``none`` rows stand for ε = ∞ of both modes."""
    rows = {}
    for row in result["summary"]:
        modes = ("client", "sample") if row["mode"] == "none" else (row["mode"],)
        for mode in modes:
            rows[(row["partition"], mode, _eps(row["epsilon"]))] = row
    return rows


def _f1_cell(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "—"
    if "f1_mean" not in row:
        return "refused"
    return f"{_num(row['f1_mean'])} ± {_num(row['f1_std'])}"


def privacy_headline(result: Mapping[str, Any] | None = None) -> str:
    """F1 (mean ± SD over seeds) per federation and DP mode at each ε: the README's table."""
    result = result or load_result("privacy")
    rows = _privacy_rows(result)
    epsilons = ["∞", "8", "4", "1"]
    lines = ["| sites | DP | " + " | ".join(f"ε = {e}" for e in epsilons) + " |",
             "|---|---|" + "---|" * len(epsilons)]
    for partition, label in PRIVACY_SITES.items():
        for mode in ("client", "sample"):
            if not any(key[:2] == (partition, mode) for key in rows if key[2] != "∞"):
                continue
            cells = [_f1_cell(rows.get((partition, mode, e))) for e in epsilons]
            lines.append(f"| {label} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _privacy_table() -> str:
    """Every cell: F1, PR-AUC, the ε spent, the noise multiplier; refusals with their reason."""
    result = load_result("privacy")
    lines = ["| sites | DP | target ε | runs | F1 | PR-AUC | ε spent | noise multiplier |",
             "|---|---|---|---|---|---|---|---|"]
    refusals = []
    for row in result["summary"]:
        label = PRIVACY_SITES.get(row["partition"], row["partition"])
        if "f1_mean" not in row:
            refusals.append(f"- {label}, {row['mode']} DP at ε = {_eps(row['epsilon'])}: "
                            f"{row.get('reason')}")
            continue
        spent = (_mean_sd(row, "epsilon_spent") if "epsilon_spent_mean" in row else "∞")
        noise = _num(row.get("noise_multiplier_mean"), 2) if row["mode"] != "none" else "0"
        lines.append(f"| {label} | {row['mode']} | {_eps(row['epsilon'])} | {row['runs']} | "
                     f"{_mean_sd(row, 'f1')} | {_mean_sd(row, 'pr_auc')} | {spent} | {noise} |")
    text = "\n".join(lines) + "\n"
    if refusals:
        text += ("\nRefused (the run explains why, before training):\n\n"
                 + "\n".join(refusals) + "\n")
    run = (f"\n{result['rounds']} rounds, δ = {result['delta']:g}, clip {result['clip']:g}, "
           f"{len(result['records'])} runs in {result['seconds'] / 60:.0f} min on "
           f"{result['machine']}.\n\n")
    return text + run + _source("privacy", result, "written")


GENERATORS: dict[str, Callable[[], str]] = {
    "robustness-summary": _robustness_summary,
    "robustness-tables": _robustness_tables,
    "quality-headline": _quality_headline,
    "quality-records": _quality_records,
    "quality-targets": _quality_targets,
    "quality-protocol": _quality_protocol,
    "quality-selection": _quality_selection,
    "engine-speed": lambda: _engine_speed("engine_speed"),
    "engine-speed-loaded": lambda: _engine_speed("engine_speed_loaded"),
    "engine-vs-flower": _engine_vs_flower,
    "data-speed": _data_speed,
    "tune-speed": _tune_speed,
    "sign-flip": _sign_flip,
    "privacy-table": _privacy_table,
}
"""Marker name (``<!-- generate: NAME -->`` in a page) -> the Markdown it stands for."""
