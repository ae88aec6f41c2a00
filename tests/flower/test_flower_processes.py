"""Stopping a process stops the helpers it started too (by PID, never by name)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from networkfed.flower.federation import node_config_string
from networkfed.flower.processes import descendants, start_process, stop_tree, tree_rss_bytes

# A parent that starts a child and a grandchild, then waits (as a SuperNode does with
# flower-superexec and flwr-clientapp).
FAMILY = (
    "import subprocess, sys, time\n"
    "code = 'import subprocess, sys, time; subprocess.Popen([sys.executable, \"-c\", "
    "\"import time; time.sleep(60)\"]); time.sleep(60)'\n"
    "subprocess.Popen([sys.executable, '-c', code])\n"
    "time.sleep(60)\n"
)


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_stop_tree_stops_children_and_grandchildren(tmp_path):
    # Prepare
    parent = start_process([sys.executable, "-c", FAMILY], log_path=tmp_path / "family.log",
                           env=dict(os.environ))
    try:
        assert _wait_for(lambda: len(descendants(parent.pid)) == 2)
        family = [parent.pid, *descendants(parent.pid)]
        assert tree_rss_bytes(parent.pid) > 0
        # Execute
        stopped = stop_tree(parent.pid, timeout=5)
        parent.wait(timeout=10)
        # Assert
        assert set(stopped) == set(family)
        assert _wait_for(lambda: not any(_running(pid) for pid in family[1:]))
    finally:
        if parent.poll() is None:
            stop_tree(parent.pid, timeout=0)


def _running(pid: int) -> bool:
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True,
                           text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


def test_node_config_is_toml_that_flower_parses():
    from flwr.common.config import parse_config_args

    text = node_config_string({"site-id": "plant a", "data-path": "/data/it's.csv", "n": 3,
                               "w": 0.5, "on": True})
    assert parse_config_args([text]) == {"site-id": "plant a", "data-path": "/data/it's.csv",
                                         "n": 3, "w": 0.5, "on": True}
