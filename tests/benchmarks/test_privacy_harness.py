"""The privacy benchmark's harness: its plan, a refused cell with its numbers, the summary."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
privacy = importlib.import_module("privacy")


def test_plan_has_every_epsilon_of_each_mode_and_one_reference_per_seed() -> None:
    cells = privacy.plan(["product_type", "dirichlet30"], [0, 1])
    references = [c for c in cells if c.mode == "none"]
    assert len(references) == 4 and all(math.isinf(c.epsilon) for c in references)
    # product type: client and sample at 8, 4, 1; 30 sites: client only
    assert len(cells) == 2 * (1 + 6) + 2 * (1 + 3)
    assert not any(c.partition == "dirichlet30" and c.mode == "sample" for c in cells)


def test_a_target_three_sites_cannot_carry_is_recorded_as_refused(ai4i_csv: Path) -> None:
    # Execute: refused before any training, so this is cheap
    record = privacy.run_cell(privacy.Cell("product_type", "client", 1.0, 0), 10, ai4i_csv)

    # Assert
    assert record["status"] == "refused"
    assert "needs noise multiplier" in record["reason"]
    assert "at 3 sites and 10 rounds" in record["reason"]


def test_summary_is_mean_and_sd_over_seeds_and_keeps_refusals(tmp_path: Path) -> None:
    records = [
        {"partition": "dirichlet5", "mode": "client", "epsilon": 8.0, "seed": s, "status": "done",
         "f1": f1, "pr_auc": 0.5, "epsilon_spent": 7.9, "noise_multiplier": 1.2}
        for s, f1 in enumerate((0.2, 0.4))
    ] + [{"partition": "product_type", "mode": "client", "epsilon": 1.0, "seed": 0,
          "status": "refused", "reason": "needs noise multiplier 12.81"}]

    rows = {(r["partition"], r["epsilon"]): r for r in privacy.summarise(records)}

    assert abs(rows[("dirichlet5", 8.0)]["f1_mean"] - 0.3) < 1e-12
    assert abs(rows[("dirichlet5", 8.0)]["f1_std"] - 0.1414) < 1e-4
    assert rows[("product_type", 1.0)]["reason"] == "needs noise multiplier 12.81"
    privacy.plot(privacy.summarise(records), tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
