"""Process trees read from ``/proc``: start a console command, collect every process below it,
kill it with SIGKILL and see which of them outlive it (tests of killed runs, Linux only)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="reads the process tree from /proc")

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "FLWR_TELEMETRY_ENABLED": "0",
       "FLWR_DISABLE_UPDATE_CHECK": "1"}


def start_networkfed(*args: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """``networkfed ARGS`` in a new process, as the console script runs it."""
    code = "from networkfed.cli.entry import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=ENV,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _table() -> dict[int, tuple[int, str, str]]:
    """``pid -> (parent pid, state, command name)`` of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        table[int(entry)] = (int(fields[1]), fields[0], name)
    return table


def tree(root: int) -> list[int]:
    """``root`` and every process below it (whatever session or group they moved to)."""
    table = _table()
    found, index = [root], 0
    while index < len(found):
        found += [pid for pid, (parent, _, _) in table.items() if parent == found[index]]
        index += 1
    return found


def command_names() -> dict[int, str]:
    """``pid -> command name`` of every process."""
    return {pid: name for pid, (_, _, name) in _table().items()}


def running(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended: it only waits to be reaped)."""
    table = _table()
    return [pid for pid in pids if pid in table and table[pid][1] != "Z"]


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the command ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.1)


def kill_and_collect_survivors(process: subprocess.Popen[bytes], grace: float = 10.0) -> list[str]:
    """SIGKILL ``process``; the names of the processes of its tree still running ``grace``
    seconds later (the tree is collected just before the kill)."""
    pids = tree(process.pid)
    labels = command_names()
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + grace
    while running(pids[1:]) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = running(pids[1:])
    for pid in survivors:  # do not leave them to the rest of the suite
        os.kill(pid, 9)
    return [f"{labels.get(pid, '?')} ({pid})" for pid in survivors]
