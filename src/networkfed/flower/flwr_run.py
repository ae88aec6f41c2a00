"""Small helpers around Flower's command-line programs: ports, node configs, ``flwr run``."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from networkfed.core.errors import NetworkFedError
from networkfed.flower.processes import stop_tree

__all__ = ["NodeConfigValue", "RunOutcome", "follow_run", "free_port", "node_config_string"]

NodeConfigValue = str | int | float | bool
_RUN_ID = re.compile(r"Successfully started run (\d+)")


@dataclass(frozen=True)
class RunOutcome:
    """How a ``flwr run`` ended: Flower's status string (``finished:completed`` on success)."""

    run_id: int | None
    status: str
    log_path: Path

    @property
    def ok(self) -> bool:
        return self.status == "finished:completed"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (chosen by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def node_config_string(values: Mapping[str, NodeConfigValue]) -> str:
    """``--node-config`` text: space-separated TOML ``key=value`` pairs (strings quoted)."""
    parts = []
    for key, value in values.items():
        if isinstance(value, str):
            quote = "'" if "'" not in value else '"'
            if quote in value:
                raise NetworkFedError(f"node config value for {key!r} mixes ' and \": {value!r}")
            parts.append(f"{key}={quote}{value}{quote}")
        else:
            parts.append(f"{key}={tomli_w.dumps({'v': value}).split('=', 1)[1].strip()}")
    return " ".join(parts)


def follow_run(
    process: subprocess.Popen[str],
    log_path: Path,
    timeout: float,
    echo: Callable[[str], None] | None,
    *,
    tick: Callable[[], None] | None = None,
) -> tuple[int | None, bool]:
    """Follow a ``flwr run --stream`` process: copy its output, stop it after ``timeout``.

    Returns the run id it printed (``None`` if it never started one) and whether it ended on
    its own. ``tick`` is called every few seconds while it runs.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    found: list[int] = []
    reader = threading.Thread(target=_copy_output, args=(process, log_path, echo, found),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if tick is not None:
            tick()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=min(5.0, max(deadline - time.monotonic(), 0.0)))
    if process.poll() is None:
        stop_tree(process.pid)
        process.wait()
    reader.join(timeout=10)
    return (found[0] if found else None), process.returncode >= 0


def _copy_output(
    process: subprocess.Popen[str],
    log_path: Path,
    echo: Callable[[str], None] | None,
    found: list[int],
) -> None:
    """Copy ``flwr run`` output line by line to the log (and ``echo``); note the run id."""
    if process.stdout is None:
        return
    with open(log_path, "a", encoding="utf-8") as log_file:
        for line in process.stdout:
            log_file.write(line)
            log_file.flush()
            if echo is not None:
                echo(line.rstrip("\n"))
            if not found and (match := _RUN_ID.search(line)):
                found.append(int(match.group(1)))
