"""Tables of the robustness benchmark, generated from its result document (never by hand).

:func:`markdown` writes ``robustness.md``: one table per partition and model, a row per
strategy and ``f``, a column per attack, each cell the mean over seeds of the final F1 /
PR-AUC on the honest sites' test data. :func:`summary_table` is the compact view (F1 for
f = 1 / 2 / 3, averaged over models, partitions and seeds); the documentation site builds
its robustness page from both (``docs/docgen/benchmarks.py``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, path)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    write_atomic(path, json.dumps(_finite(document), indent=1) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return sum(kept) / len(kept) if kept else None


def _cell(records: list[Mapping[str, Any]], metric: str) -> str:
    """Mean over the records; ``refused`` / ``failed`` when no run finished."""
    if not records:
        return ""
    statuses = {r["status"] for r in records}
    if statuses == {"refused"}:
        return "refused"
    done = [r for r in records if r["status"] == "done"]
    if not done:
        return "failed"
    value = _mean(r.get(metric) for r in done)
    text = "—" if value is None else f"{value:.2f}"
    return text + ("*" if len(done) < len(records) else "")


def _groups(records: Iterable[Mapping[str, Any]], *keys: str) -> dict[tuple, list]:
    grouped: dict[tuple, list] = defaultdict(list)
    for record in records:
        grouped[tuple(record[k] for k in keys)].append(record)
    return grouped


def _none_records(by: dict[tuple, list], key: tuple, f: int) -> list:
    """The no-attack runs of ``key`` with ``f`` (or the f-free run, stored as f = 0), scored
    on the sites that stay honest when ``f`` attack (``honest``), as the attacked runs are."""
    found = by.get((*key, "none", f)) or by.get((*key, "none", 0)) or []
    return [{**r, **r.get("honest", {}).get(str(f), {})} for r in found]


def markdown(document: Mapping[str, Any]) -> str:
    """``robustness.md``: what was run, then :func:`tables`."""
    settings = document["settings"]
    return "\n".join([
        "# Robustness: final F1 / PR-AUC on the honest sites' test data",
        "",
        f"Command: `{document['command']}` ({document['rounds']} rounds x "
        f"{settings['training']['local_epochs']} local epoch, {settings['num_sites']} sites, "
        f"seeds {settings['seeds']}; {_minutes(document)} with {document['workers']} "
        f"workers; commit {document.get('commit')}).{_partial(document)}",
        "",
        tables(document, "##"),
    ])


def tables(document: Mapping[str, Any], heading: str = "###") -> str:
    """One table per partition and model: a row per strategy and f, a column per attack."""
    settings, records = document["settings"], document["records"]
    by = _groups(records, "partition", "model", "strategy", "attack", "f")
    attacks = settings["attacks"]
    lines = [
        "Each cell: mean over seeds of F1 / PR-AUC. `refused`: the rule's precondition fails "
        "(exit 2); `failed`: the run could not finish (non-finite model); `*`: some seeds "
        "failed, the mean is over the others. `none`: the same rule without attack, scored on the "
        "same honest sites as the attacked runs of its row.",
    ]
    for partition in settings["partitions"]:
        for model in settings["models"]:
            lines += ["", f"{heading} {partition}, {model.upper()}", "",
                      "| strategy | f | none | " + " | ".join(attacks) + " |",
                      "|---|---|" + "---|" * (len(attacks) + 1)]
            for strategy in settings["strategies"]:
                for f in settings["f"]:
                    key = (partition, model, strategy)
                    cells = [_pair(_none_records(by, key, f))]
                    cells += [_pair(by.get((*key, attack, f), [])) for attack in attacks]
                    lines.append(f"| {strategy} | {f} | " + " | ".join(cells) + " |")
    rejected = sum(r.get("rejected", 0) for r in records if r["attack"] == "nan")
    lines += ["", f"`nan` attack: {rejected} non-finite updates rejected by update validation "
              "over all runs; every such run went on with the other sites."]
    return "\n".join(lines) + "\n"


def _minutes(document: Mapping[str, Any]) -> str:
    seconds = document.get("elapsed_seconds")
    return "time not recorded" if seconds is None else f"{seconds / 60:.1f} min"


def _partial(document: Mapping[str, Any]) -> str:
    """A stopped run's tables say so (``sizing.partial``: records of planned runs)."""
    if document.get("complete", True):
        return ""
    return f" Partial: {document['sizing'].get('partial', 'some')} planned runs finished."


def _pair(records: list[Mapping[str, Any]]) -> str:
    f1, pr_auc = _cell(records, "f1"), _cell(records, "pr_auc")
    return f1 if f1 in ("refused", "failed", "") else f"{f1} / {pr_auc}"


def summary_table(document: Mapping[str, Any]) -> str:
    """F1 for each f (``f=1 · f=2 · f=3``), averaged over models, partitions and seeds."""
    settings, records = document["settings"], document["records"]
    by = _groups(records, "strategy", "attack", "f")
    attacks = settings["attacks"]
    lines = ["| strategy | none | " + " | ".join(attacks) + " |",
             "|---|---|" + "---|" * len(attacks)]
    for strategy in settings["strategies"]:
        cells = []
        for attack in ["none", *attacks]:
            parts = []
            for f in settings["f"]:
                found = by.get((strategy, attack, f), [])
                if attack == "none":
                    found = _none_records(by, (strategy,), f)
                parts.append(_cell(found, "f1").replace("refused", "ref.").replace(
                    "failed", "fail"))
            cells.append(" · ".join(parts))
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
