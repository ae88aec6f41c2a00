"""The robustness benchmark's harness: its plan, its configured rules, a real cell on AI4I,
and the tables it generates from a result document."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
robustness = importlib.import_module("robustness")
report = importlib.import_module("robustness_report")


def _args(**changes: object) -> argparse.Namespace:
    settings = {"partitions": ["iid"], "models": ["cnn"], "strategies": ["fedavg", "krum"],
                "attacks": ["sign-flip", "nan"], "f": [1, 2], "seeds": [0]}
    settings.update(changes)
    return argparse.Namespace(**settings)


def test_plan_runs_each_no_attack_run_once() -> None:
    cells = robustness.plan(_args())
    none = [(c.strategy, c.f) for c in cells if c.attack == "none"]
    # fedavg ignores f: one no-attack run; krum is configured per f: one per f
    assert sorted(none) == [("fedavg", 0), ("krum", 1), ("krum", 2)]
    assert len(cells) == 3 + 2 * 2 * 2


def test_rules_are_told_the_true_f() -> None:
    assert robustness.strategy_options("multikrum", 3) == {
        "num_malicious_clients": 3, "num_clients_to_keep": 7}
    assert robustness.strategy_options("fedtrimmedavg", 2) == {"beta": 0.2}
    assert robustness.strategy_options("fedadam", 2) == {}


def test_the_no_attack_reference_is_rescored_on_the_honest_sites(ai4i_csv: Path) -> None:
    # Execute: f = 0 keeps every site, so the rescoring must equal the engine's own metrics
    record = robustness.run_cell(robustness.Cell("iid", "cnn", "fedavg", "none", 0, 0), 1,
                                 str(ai4i_csv), (0, 2))
    # Assert
    assert record["honest"]["0"] == {"f1": record["f1"], "pr_auc": record["pr_auc"]}
    assert set(record["honest"]) == {"0", "2"}


def test_a_cell_on_ai4i_and_a_refused_one(ai4i_csv: Path) -> None:
    # Execute: one real 1-round cell, and Bulyan with f = 2 of 10 sites (needs 11)
    done = robustness.run_cell(robustness.Cell("iid", "cnn", "fedavg", "nan", 1, 0), 1,
                               str(ai4i_csv))
    refused = robustness.run_cell(robustness.Cell("iid", "cnn", "bulyan", "none", 2, 0), 1,
                                  str(ai4i_csv))
    # Assert
    assert done["status"] == "done" and done["rejected"] == 1 and len(done["attackers"]) == 1
    assert 0.0 <= done["f1"] <= 1.0 and 0.0 <= done["pr_auc"] <= 1.0
    assert refused["status"] == "refused" and "4f + 3 = 11" in refused["error"]


def _document() -> dict:
    records = [
        {"partition": "iid", "model": "cnn", "strategy": "fedavg", "attack": "none", "f": 0,
         "seed": 0, "status": "done", "f1": 0.7, "pr_auc": 0.6, "rejected": 0,
         "honest": {"1": {"f1": 0.6, "pr_auc": 0.5}}},
        {"partition": "iid", "model": "cnn", "strategy": "fedavg", "attack": "nan", "f": 1,
         "seed": 0, "status": "done", "f1": 0.5, "pr_auc": 0.4, "rejected": 12},
        {"partition": "iid", "model": "cnn", "strategy": "fedavg", "attack": "nan", "f": 1,
         "seed": 1, "status": "failed", "error": "ValueError"},
        {"partition": "iid", "model": "cnn", "strategy": "bulyan", "attack": "none", "f": 1,
         "seed": 0, "status": "refused", "error": "4f + 3"},
        {"partition": "iid", "model": "cnn", "strategy": "bulyan", "attack": "nan", "f": 1,
         "seed": 0, "status": "refused", "error": "4f + 3"},
    ]
    settings = {"partitions": ["iid"], "models": ["cnn"], "strategies": ["fedavg", "bulyan"],
                "attacks": ["nan"], "f": [1], "seeds": [0, 1], "num_sites": 10,
                "training": {"local_epochs": 1}}
    return {"command": "benchmarks/robustness.py --x", "rounds": 3, "elapsed_seconds": 60.0,
            "workers": 2, "settings": settings, "records": records}


def test_tables_come_from_the_records() -> None:
    text = report.markdown(_document())
    assert "| fedavg | 1 | 0.60 / 0.50 | 0.50* / 0.40* |" in text
    assert "`benchmarks/robustness.py --x`" in text
    assert "| bulyan | 1 | refused | refused |" in text
    assert "12 non-finite updates rejected" in text
    assert "| fedavg | 0.60 | 0.50* |" in report.summary_table(_document())
    assert "1.0 min" in text
