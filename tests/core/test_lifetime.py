"""Children end with their parent, however it ends (``networkfed.core.lifetime``).

Each test starts a real parent process, lets it start a child that would otherwise live
forever (blocked writing to a pipe whose reader it holds itself, as a forked worker did, or
a sleeping program in its own session), kills the parent with SIGKILL and waits for the child
to be gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from process_tree import linux_only, running

pytestmark = linux_only

STUCK_CHILD = """
    import os, sys, time
    from networkfed.core.lifetime import exit_with_parent
    parent = os.getpid()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        exit_with_parent(parent, death_signal={death_signal}, interval={interval})
        while True:  # fills the pipe, then blocks: its own copy of read_end keeps it open
            os.write(write_end, b"x" * 65536)
    print(child, flush=True)
    time.sleep(600)
"""


def _parent(script: str) -> tuple[subprocess.Popen[str], int]:
    """Start ``script`` as the parent; the child pid it prints first."""
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while running([pid]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running([pid]):
        os.kill(pid, signal.SIGKILL)
        return False
    return True


@pytest.mark.parametrize(("death_signal", "interval"), [(False, 0.2), (True, 3600.0)],
                         ids=["watch-thread-alone", "kernel-signal-alone"])
def test_a_child_blocked_on_a_pipe_ends_when_its_parent_is_killed(
    death_signal: bool, interval: float
) -> None:
    # Prepare
    parent, child = _parent(STUCK_CHILD.format(death_signal=death_signal, interval=interval))
    time.sleep(0.5)
    assert running([child]), "the child should be blocked, alive, while its parent lives"

    # Execute
    parent.kill()
    parent.wait()

    # Assert
    assert _gone_within(child, 5.0)


GUARDED_GROUP = """
    import subprocess, time
    from networkfed.core.lifetime import GroupReaper
    reaper = GroupReaper(grace=1.0)
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    reaper.guard(sleeper.pid)
    if {say_goodbye}:
        reaper.close()
    print(sleeper.pid, flush=True)
    time.sleep(600)
"""


def test_the_guard_stops_a_group_whose_owner_is_killed() -> None:
    parent, sleeper = _parent(GUARDED_GROUP.format(say_goodbye=False))

    parent.kill()
    parent.wait()

    assert _gone_within(sleeper, 5.0)


def test_the_guard_leaves_groups_alone_after_goodbye() -> None:
    parent, sleeper = _parent(GUARDED_GROUP.format(say_goodbye=True))

    parent.kill()
    parent.wait()

    assert not _gone_within(sleeper, 2.0)  # (then killed here)
