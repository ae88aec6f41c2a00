"""Quality benchmark tables: held-out results, targets and the selection, as Markdown.

One definition of every table: the benchmark writes them beside its JSON
(``benchmarks/results/QUALITY.md``, ``quality_selection.md``) and the docs site
(``docs/docgen/benchmarks.py``) renders the same functions from the same files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import quality_report_rul as rul
from quality_numbers import (
    aggregate,
    candidate_rows,
    choice_rows,
    chosen_row,
    find,
    mean_sd,
    num,
    target_checks,
)

__all__ = ["aggregate", "chosen_row", "find", "headline_table", "mean_sd", "num",
           "quality_markdown", "results_table", "selection_markdown", "selection_table",
           "target_checks", "targets_table"]

C_MAPSS_NOTE = (
    "C-MAPSS: a held-out seed changes which training engines are kept for validation, the "
    "initial weights and the shuffling; the test engines are the official test files, the "
    "same for every seed, so the seed-to-seed spread understates how much a different test "
    "fleet would move the numbers.")


def _config(row: Mapping[str, Any]) -> str:
    return row["settings"] + ("" if row["strategy"] == "-" else f", {row['strategy']}")


def _cell(row: Mapping[str, Any] | None, metric: str = "f1") -> str:
    if row is None:
        return "—"
    return f"{num(row[f'test_{metric}_mean'])} ± {num(row[f'test_{metric}_sd'])}"


def headline_table(quality: Mapping[str, Any]) -> str:
    """One row per scenario: the validation-chosen best model on held-out seeds, the same
    model centralized and local-only (each with its own chosen settings), the tree baselines
    and the targets."""
    lines = ["| scenario | best model (chosen on validation) | F1 | PR-AUC | same model "
             "centralized | local-only | random forest | gradient boosting | targets |",
             "|---|---|---|---|---|---|---|---|---|"]
    checks = defaultdict(list)
    for check in quality["targets"]:
        checks[check["scenario"]].append(
            f"{check['target'].split(': ', 1)[-1]}: {'met' if check['met'] else 'MISSED'} "
            f"({check['measured']})")
    for scenario, choice in quality["choices"].items():
        best = choice["best_model"]
        row = chosen_row(quality, scenario, best, choice["primary_mode"])
        if row is None or rul.is_rul(choice):
            continue
        central = (chosen_row(quality, scenario, best, "centralized")
                   if choice["primary_mode"] == "federated" else None)
        local = chosen_row(quality, scenario, best, "local")
        forest = find(quality["aggregates"], scenario=scenario, model="random_forest")
        boosted = find(quality["aggregates"], scenario=scenario, model="gradient_boosting")
        lines.append(
            f"| {scenario} | {best} {choice['primary_mode']} ({_config(row)}) | {_cell(row)} | "
            f"{_cell(row, 'pr_auc')} | {_cell(central)} | {_cell(local)} | {_cell(forest)} | "
            f"{_cell(boosted)} | {'; '.join(checks[scenario]) or '—'} |")
    return "\n".join(lines) + "\n" + rul.rul_headline_table(quality)


def results_table(quality: Mapping[str, Any]) -> str:
    """Every held-out configuration: test metrics (mean ± SD and per seed), the validation
    F1 that chose it, the validation-chosen threshold and best round."""
    lines = ["| scenario | model | mode | settings | strategy | F1 | F1 per seed | PR-AUC | "
             "ROC-AUC | precision | recall | threshold | best round (val PR-AUC) | val F1 | "
             "best model |", "|---" * 15 + "|"]
    for r in quality["aggregates"]:
        choice = quality["choices"].get(r["scenario"], {})
        if rul.is_rul(choice):
            continue
        best = (r["model"] == choice.get("best_model")
                and r["mode"] == choice.get("primary_mode"))
        rounds = " / ".join(str(s["best_round"]) for s in r["per_seed"]) \
            if r["per_seed"][0].get("best_round") is not None else "—"
        lines.append(
            f"| {r['scenario']} | {r['model']} | {r['mode']} | {r['settings']} | {r['strategy']} | "
            f"{_cell(r)} | {' / '.join(num(s['test']['f1']) for s in r['per_seed'])} | "
            f"{_cell(r, 'pr_auc')} | {num(r['test_roc_auc_mean'])} | "
            f"{num(r['test_precision_mean'])} | {num(r['test_recall_mean'])} | "
            f"{num(r['test_threshold_mean'])} | {rounds} | {num(r['validation_f1_mean'])} | "
            f"{'**yes**' if best else ''} |")
    return "\n".join(lines) + "\n" + rul.rul_results_table(quality)


def targets_table(quality: Mapping[str, Any]) -> str:
    lines = ["| target | model | configuration | measured (held-out mean) | met |",
             "|---|---|---|---|---|"]
    for t in quality["targets"]:
        config = f"{t.get('settings')}, {t.get('strategy')}"
        lines.append(f"| {t['target']} | {t['model']} ({t['mode']}) | {config} | "
                     f"{t['measured']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def choices_table(selection: Mapping[str, Any]) -> str:
    """The choices: per scenario and model, each mode's chosen candidate and its score."""
    lines = ["| scenario | model | mode | chosen settings | chosen strategy | val F1 | "
             "val PR-AUC | best model |", "|---|---|---|---|---|---|---|---|"]
    lines += choice_rows(selection, lambda choice: not rul.is_rul(choice),
                         lambda mean: f"{num(mean.get('f1'))} | {num(mean.get('pr_auc'))}")
    return "\n".join(lines) + "\n" + rul.rul_choices_table(selection)


def selection_table(selection: Mapping[str, Any]) -> str:
    """Every candidate of the search with its validation metrics per tuning seed."""
    lines = ["| scenario | model | mode | settings | strategy | val F1 | val F1 per seed | "
             "val PR-AUC | val ROC-AUC | best round per seed | chosen |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += candidate_rows(
        selection, lambda choice: not rul.is_rul(choice),
        lambda mean, seeds: f"{num(mean.get('f1'))} | "
        f"{' / '.join(num(v.get('f1')) for v in seeds)} | {num(mean.get('pr_auc'))} | "
        f"{num(mean.get('roc_auc'))}")
    return "\n".join(lines) + "\n" + rul.rul_selection_table(selection)


def _settings_text(model: str, s: Mapping[str, Any]) -> str:
    """One settings candidate in words (XGBoost's are trees, not an optimiser)."""
    h = s["hparams"]
    if model == "xgboost":
        trees = ", ".join(f"{k} {v}" for k, v in h.items())
        return (f"{s['rounds']} rounds x {s['local_epochs']} boosting rounds per site, {trees}, "
                f"class weights {s['class_weighting']}")
    text = (f"{s['rounds']} rounds x {s['local_epochs']} local epochs, batch "
            f"{h['batch_size']}, lr {h['learning_rate']} x {h['gamma']} every "
            f"{h['step_size']} rounds, ")
    if "rul_loss" in s:
        window = s.get("sequence_length", "the scenario's")
        return text + f"loss {s['rul_loss']} on the capped remaining life, window {window}"
    return text + (f"class weights {s['class_weighting']}, inputs "
                   f"{s.get('inputs', 'default')}")


def candidates_tried(selection: Mapping[str, Any]) -> str:
    """What each candidate name means (from the search's own record of its declarations)."""
    lines = []
    for name, scenario in selection["scenarios"].items():
        lines.append(f"- **{name}** ({scenario['dataset']}, {scenario['partition']}; tuning "
                     f"seeds {scenario['tuning_seeds']}; rule: {scenario['rule']}).")
        for model, settings in scenario["settings"].items():
            for label, s in settings.items():
                lines.append(f"    - {model} `{label}`: {_settings_text(model, s)}")
        strategies = ", ".join(f"`{label}`" for label in scenario["strategies"])
        if not scenario["single_site"]:
            lines.append(f"    - strategies (at the first settings candidate): {strategies}")
    return "\n".join(lines) + "\n"


def stamp(document: Mapping[str, Any], name: str) -> str:
    name += "_quick" if document.get("quick") else ""
    prov = document.get("provenance", {})
    return (f"*`benchmarks/results/{name}.json`, written {document.get('created_at')} by "
            f"`{document.get('command')}` in {document.get('elapsed_seconds', 0) / 60:.0f} min "
            f"({document.get('runs', '?')} runs, {document.get('workers')} workers); commit "
            f"{str(prov.get('git_commit'))[:12]}, package source hash "
            f"{str(prov.get('source_hash'))[:12]}.*\n")


def selection_markdown(selection: Mapping[str, Any]) -> str:
    """``quality_selection.md``: the choices, every candidate, and what each one means."""
    return ("# Quality benchmark: the selection stage\n\n" + stamp(selection,
                                                                     "quality_selection")
            + "\n## Choices\n\n" + choices_table(selection)
            + "\n## Every candidate (validation metrics of the tuning seeds)\n\n"
            + selection_table(selection) + "\n## What was tried\n\n"
            + candidates_tried(selection))


def protocol_text(quality: Mapping[str, Any]) -> str:
    """The protocol in words, then per scenario its held-out seeds and what ran on them."""
    seeds = "; ".join(f"{name}: {', '.join(map(str, s))}"
                      for name, s in quality["held_out_seeds"].items())
    table = ["| scenario | held-out seeds | best model (mode) | models run |", "|---|---|---|---|"]
    for name, held_out in quality["held_out_seeds"].items():
        choice = quality["choices"][name]
        table.append(f"| {name} | {', '.join(map(str, held_out))} | {choice['best_model']} "
                     f"({choice['primary_mode']}) | {', '.join(choice['models'])} |")
    return (
        "Every choice — settings per model and mode, strategy and per-site layers, AI4I input "
        "bins, and which model is the scenario's best — was made by `benchmarks/"
        "quality_search.py` on the validation metrics of the tuning seeds (rule: "
        f"{quality['selection']['rule']}). This run trained only the chosen configurations, "
        f"on held-out seeds no choice saw ({seeds}), and reports their test metrics; test "
        "data never chose anything. Each model is scored at the final round; the alarm "
        "threshold is chosen on pooled validation predictions (the random forest and the "
        "gradient-boosted trees use the same rule). The best model of a scenario runs in every "
        "mode (federated, centralized and local-only, each with its own chosen settings); the "
        f"other models run their chosen federated configuration.{_rul_rules(quality)}"
        f"\n\n{C_MAPSS_NOTE}\n\n"
        + "\n".join(table) + "\n")


def _rul_rules(quality: Mapping[str, Any]) -> str:
    """The remaining-life scenarios' own rule (a regression is chosen by its errors)."""
    rules = {c["rule"] for c in quality["choices"].values() if rul.is_rul(c)}
    if not rules:
        return ""
    return (" The remaining-life scenarios are chosen by their own rule ("
            + "; ".join(sorted(rules)) + ") and scored at the final round on each test "
            "engine's last window.")


def quality_markdown(quality: Mapping[str, Any], selection: Mapping[str, Any] | None) -> str:
    """``QUALITY.md``: protocol, held-out headline and targets, every held-out row, and the
    selection that chose them."""
    parts = ["# Quality on real data (held-out seeds)\n", stamp(quality, "quality"),
             "\n## Protocol\n", protocol_text(quality), "\n## Headline\n",
             headline_table(quality), "\n## Targets\n", targets_table(quality),
             "\n## Every held-out configuration\n", results_table(quality)]
    if selection is not None:
        parts += ["\n## Selection (tuning seeds, validation metrics only)\n",
                  stamp(selection, "quality_selection"), "\n", choices_table(selection),
                  "\n### Every candidate\n\n", selection_table(selection),
                  "\n### What was tried\n\n", candidates_tried(selection)]
    return "\n".join(parts)
