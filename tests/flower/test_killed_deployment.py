"""``kill -9`` of ``networkfed flower up`` mid-round: the SuperLink, the SuperNodes, their
``flower-superexec`` / ``flwr-serverapp`` / ``flwr-clientapp`` helpers and ``flwr run`` are
all gone within 10 s (a guard process stops their process groups)."""

from __future__ import annotations

from pathlib import Path

import pytest

from process_tree import (
    command_names,
    kill_and_collect_survivors,
    linux_only,
    start_networkfed,
    tree,
    wait_until,
)

pytestmark = [pytest.mark.flower, pytest.mark.slow, linux_only]


def _clientapp_running(root: int) -> bool:
    names = command_names()
    return any(names.get(pid) == "flwr-clientapp" for pid in tree(root))


def test_kill_9_of_flower_up_mid_round_leaves_no_flower_process(tmp_path: Path) -> None:
    # Prepare: a real deployment, killed while a site trains (a ClientApp process exists)
    process = start_networkfed("flower", "up", "--rounds", "3", "--local-epochs", "1",
                               "--rows-per-site", "1500", "--quiet", "--dir",
                               str(tmp_path / "deploy"))
    wait_until(lambda: _clientapp_running(process.pid), 240, "ClientApp process", process)

    # Execute
    survivors = kill_and_collect_survivors(process)

    # Assert
    assert survivors == []
