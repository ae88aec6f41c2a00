"""Child processes of a local Flower deployment: start them, find their children, stop them.

Flower's daemons start helpers of their own: a SuperLink starts ``flower-superexec``, which
starts ``flwr-serverapp``; a SuperNode starts ``flower-superexec``, which starts one
``flwr-clientapp`` per message. Stopping a SuperNode with SIGTERM leaves those helpers running,
so every stop here walks the process tree (``ps``; works on Linux and macOS) and stops the
descendants by their PIDs too. Nothing is stopped by name.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = [
    "descendants",
    "is_flower_process",
    "process_table",
    "start_process",
    "stop_tree",
    "tree_rss_bytes",
]


def process_table() -> dict[int, tuple[int, int]]:
    """``pid -> (parent pid, resident set size in bytes)`` for every process visible to us."""
    out = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid=,rss="], capture_output=True, text=True, check=True
    ).stdout
    table: dict[int, tuple[int, int]] = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(field.isdigit() for field in fields):
            table[int(fields[0])] = (int(fields[1]), int(fields[2]) * 1024)
    return table


def descendants(pid: int, table: Mapping[int, tuple[int, int]] | None = None) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...), parents first."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop(0)
        for child in sorted(children.get(current, [])):
            found.append(child)
            frontier.append(child)
    return found


def tree_rss_bytes(pid: int, table: Mapping[int, tuple[int, int]] | None = None) -> int:
    """Resident memory of ``pid`` plus all its descendants (what the machine really spends)."""
    table = process_table() if table is None else table
    return sum(table.get(p, (0, 0))[1] for p in [pid, *descendants(pid, table)])


def start_process(
    command: list[str], *, log_path: Path, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session with stdout and stderr going to ``log_path``.

    Its own session keeps Ctrl-C in the terminal from reaching the daemons half-way through a
    run; :func:`stop_tree` stops them in order instead.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    logger.info("started %s (pid %d), log %s", Path(command[0]).name, process.pid, log_path)
    return process


def stop_tree(pid: int, *, timeout: float = 5.0, sig: int = signal.SIGTERM) -> list[int]:
    """Stop ``pid`` and its descendants: ``sig`` first, SIGKILL for whatever outlives ``timeout``.

    Returns every PID that was signalled. Descendants are collected *before* the parent is
    signalled, because once it is gone its children are re-parented and can no longer be found.
    """
    targets = [pid, *descendants(pid)]
    _signal_all(targets, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in targets):
        time.sleep(0.1)
    _signal_all([p for p in targets if _alive(p)], signal.SIGKILL)
    return targets


def is_flower_process(pid: int) -> bool:
    """Whether ``pid`` still runs one of Flower's programs (a recorded PID not yet reused)."""
    done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                          text=True, check=False)
    command = done.stdout.strip()
    return bool(command) and ("flower-" in command or "flwr-" in command)


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for target in pids:
        try:
            os.kill(target, sig)
        except (ProcessLookupError, PermissionError):
            continue


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it first when it is our own exited child (no zombies)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
