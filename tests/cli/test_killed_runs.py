"""A killed run leaves nothing behind: ``kill -9`` of ``networkfed simulate`` / ``tune`` while
worker processes train, and every process of its tree is gone within 10 s.

(Resume after such a kill ends where an uninterrupted run would:
``test_simulate_cli.test_resume_after_kill_9_ends_like_an_uninterrupted_run``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from process_tree import kill_and_collect_survivors, linux_only, start_networkfed, tree, wait_until

pytestmark = [pytest.mark.slow, linux_only]

# Enough work per round that the engine starts two worker processes and a round lasts seconds.
WORK = ["--rows-per-site", "4000", "--local-epochs", "2", "--workers", "2", "--seed", "3"]


def _saved_round(run_dir: Path) -> int:
    state = run_dir / "resume" / "state.json"
    return int(json.loads(state.read_text())["completed_round"]) if state.is_file() else -1


def test_kill_9_of_simulate_mid_round_leaves_no_worker(tmp_path: Path) -> None:
    # Prepare: a real run, killed once round 1 is saved (round 2 is then training)
    run_dir = tmp_path / "run"
    process = start_networkfed("simulate", *WORK, "--rounds", "6", "--quiet",
                               "--run-dir", str(run_dir))
    wait_until(lambda: _saved_round(run_dir) >= 1 and len(tree(process.pid)) >= 3, 180,
               "saved round with two workers", process)

    # Execute
    survivors = kill_and_collect_survivors(process)

    # Assert
    assert survivors == []
    assert _saved_round(run_dir) < 6


def test_kill_9_of_tune_mid_trial_leaves_no_worker(tmp_path: Path) -> None:
    # Prepare: a study whose trials run on worker processes (--workers is simulate's; the
    # trials choose them by the amount of work, as simulate's default does)
    process = start_networkfed("tune", "--trials", "3", "--rounds", "3", "--rows-per-site",
                               "6000", "--no-pruning", "--quiet", "--study-dir",
                               str(tmp_path / "study"))
    wait_until(lambda: len(tree(process.pid)) >= 3, 180, "trial with worker processes",
               process)

    # Execute
    survivors = kill_and_collect_survivors(process)

    # Assert
    assert survivors == []
