"""Child processes that end with their parent, however the parent ends.

A parent killed with SIGKILL (``kill -9``, the out-of-memory killer, a CI timeout) runs no
clean-up code: whatever it started is re-parented and, unless it notices, lives on. A forked
worker blocked writing its result to a pipe never notices — it held, measured, ~270 MB each
and never exited. Two independent guards, so that neither a missed signal nor a blocked
call keeps a child alive:

* **the kernel** (Linux): ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` kills the child the moment the
  *thread* that forked it ends. Armed only when that thread is the parent's main thread (it
  ends only with the process); a child forked from a short-lived thread relies on the next;
* **a watch thread** in the child: every ``interval`` seconds it checks that the parent is
  still its parent (on POSIX a dead parent's children are re-parented, so ``getppid()``
  changes) and ends the process at once (``os._exit``) when it is not. This works on macOS
  too, and while the main thread is stuck in a system call.

Elsewhere (Windows) neither exists: children end when their pipe breaks, as before.

Programs we start but do not write (Flower's SuperLink and SuperNodes) get
:class:`GroupReaper`: a tiny guard process that holds one end of a pipe from the parent and,
when the pipe breaks without a goodbye, stops every process group it was told about.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

logger = logging.getLogger(__name__)

__all__ = ["GroupReaper", "exit_with_parent", "in_main_thread"]

PARENT_CHECK_INTERVAL = 0.5
"""Seconds between a child's checks that its parent lives (a killed run's children are gone
within about this long after the kernel's signal, had it been missed)."""

_PR_SET_PDEATHSIG = 1


def in_main_thread() -> bool:
    """Whether the caller runs on the main thread (where a death signal can safely be armed)."""
    return threading.current_thread() is threading.main_thread()


def exit_with_parent(
    parent_pid: int, *, death_signal: bool, interval: float = PARENT_CHECK_INTERVAL
) -> None:
    """Make this (child) process end as soon as ``parent_pid`` is no longer its parent.

    Parameters
    ----------
    parent_pid
        ``os.getpid()`` of the parent, taken *before* it forked or started this process: a
        parent that died before this call is then noticed at once.
    death_signal
        Arm ``PR_SET_PDEATHSIG`` (Linux). Only when the parent forked this process from its
        main thread: the kernel fires on the death of the forking *thread*, not process.
    interval
        Seconds between the watch thread's checks.
    """
    if death_signal and sys.platform == "linux":
        _arm_death_signal()
    if not hasattr(os, "getppid") or sys.platform == "win32":
        return  # no re-parenting to observe (documented: Windows relies on broken pipes)
    if os.getppid() != parent_pid:
        os._exit(0)
    watch = threading.Thread(target=_watch_parent, args=(parent_pid, interval),
                             name="networkfed-parent-watch", daemon=True)
    watch.start()


def _arm_death_signal() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            logger.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as error:  # no libc or no prctl: the watch still runs
        logger.debug("no parent-death signal: %s", error)


def _watch_parent(parent_pid: int, interval: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(0)  # the parent is gone: nobody will read what this process would produce


_BYE = "bye"


class GroupReaper:
    """A guard process that stops process groups if this process dies without saying goodbye.

    Tell it each group to guard (:meth:`guard`), and that a group was stopped cleanly
    (:meth:`release`); :meth:`close` says goodbye. If this process dies first — however it
    dies — the guard's end of the pipe reads end-of-file and it sends every guarded group
    SIGTERM, then SIGKILL after ``grace`` seconds. POSIX only (``os.killpg``); elsewhere it is
    a no-op and documented as such.
    """

    def __init__(self, grace: float = 3.0) -> None:
        self._groups: set[int] = set()
        self._process: subprocess.Popen[str] | None = None
        if os.name != "posix":
            return
        command = [sys.executable, "-I", "-c", _REAPER_CODE, str(grace)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def guard(self, pgid: int) -> None:
        """Stop group ``pgid`` should this process die."""
        if pgid not in self._groups and pgid != os.getpgrp():  # never our own group
            self._groups.add(pgid)
            self._send(f"+{pgid}")

    def release(self, pgid: int) -> None:
        """Group ``pgid`` was stopped here; the guard forgets it (its id may be reused)."""
        if pgid in self._groups:
            self._groups.discard(pgid)
            self._send(f"-{pgid}")

    def close(self) -> None:
        """Goodbye: the guard exits without stopping anything."""
        if self._process is None:
            return
        self._send(_BYE)
        with contextlib.suppress(OSError):
            self._stdin().close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        self._process = None

    def _stdin(self) -> IO[str]:
        assert self._process is not None and self._process.stdin is not None
        return self._process.stdin

    def _send(self, line: str) -> None:
        if self._process is None:
            return
        try:
            self._stdin().write(line + "\n")
            self._stdin().flush()
        except (BrokenPipeError, OSError):
            logger.warning("the process-group guard (pid %s) is gone", self.pid)


# The guard's program: standard library only and run with -I, so it starts in ~20 ms and
# outlives nothing it was not told about. It ignores Ctrl-C (its own session already keeps
# the terminal's signals away).
_REAPER_CODE = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
grace = float(sys.argv[1])
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line == "bye":
        sys.exit(0)
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))

def alive(group):
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True

def signal_all(sig):
    for group in list(groups):
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            groups.discard(group)

signal_all(signal.SIGTERM)
deadline = time.monotonic() + grace
while time.monotonic() < deadline and any(alive(g) for g in groups):
    time.sleep(0.1)
signal_all(signal.SIGKILL)
"""
