"""Worker processes that keep the model and the site data resident across rounds.

On a small CPU, training these models is bound by per-operation overhead, not arithmetic
(``notes/cpu-speed.md``): two torch threads in one process fight each other, while one
single-threaded process per core scales. Each worker holds a :class:`SiteExecutor` (model,
trainer and every site's tensors, handed over once at start) and runs tasks as they come;
tasks go to whichever worker is free, largest first, so unequal sites still keep every core
busy. Site results do not depend on which worker ran them (see ``local_training``).

Tasks and results cross the pipes as pickles whose tensor data travel out of band, written
from and read into the tensors' own memory (``federated.transport``); tasks travel in packets
of many sites (:func:`work_packets`), so a message carries far more training than it costs.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from networkfed.core.errors import TrainingError
from networkfed.core.lifetime import exit_with_parent, in_main_thread
from networkfed.data.types import SiteData
from networkfed.federated.execution import SequentialRunner, SiteExecutor, SiteRunner, Task
from networkfed.federated.local_training import ModelSpec
from networkfed.federated.transport import receive_message, send_message

logger = logging.getLogger(__name__)

__all__ = ["ProcessRunner", "auto_workers", "make_runner", "work_packets"]

_STOP = "stop"


class ProcessRunner:
    """Runs tasks on ``num_workers`` single-threaded worker processes.

    Workers start on first use and stop with :meth:`close`. A worker whose parent dies —
    even by ``kill -9``, which runs no clean-up — ends on its own within about a second
    (:func:`networkfed.core.lifetime.exit_with_parent`), and a forked worker closes the
    parent's ends of every pipe it inherited, so a write to a dead parent fails at once
    instead of blocking forever.
    """

    def __init__(
        self,
        spec: ModelSpec,
        training: Mapping[str, Any],
        sites: Mapping[str, SiteData],
        num_workers: int,
    ) -> None:
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self._setup = (spec, dict(training), dict(sites))
        self.num_workers = num_workers
        self._workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []

    def start(self) -> None:
        """Start the workers now (they import torch and build the model while we go on)."""
        if self._workers:
            return
        fork = sys.platform == "linux"
        context = multiprocessing.get_context("fork" if fork else "spawn")
        parent = (os.getpid(), in_main_thread())
        for index in range(self.num_workers):
            ours, theirs = context.Pipe()
            # A forked worker inherits our end of its own pipe and of every earlier worker's:
            # while any copy stays open, a worker writing to a dead parent blocks forever.
            inherited = [ours, *(conn for _, conn in self._workers)] if fork else []
            process = context.Process(
                target=_worker_main, args=(theirs, *self._setup, parent, inherited),
                name=f"networkfed-worker-{index}", daemon=True,
            )
            process.start()
            theirs.close()
            self._workers.append((process, ours))
        logger.debug("started %d worker processes", self.num_workers)

    def run(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[Any], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list:
        """Run ``tasks`` in packets, heaviest first on the next free worker; results in task
        order. ``meanwhile`` runs here while the first packets are out."""
        self.start()
        costs = [task.cost for task in tasks]
        pending = work_packets(costs, PACKETS_PER_WORKER * len(self._workers))
        results: list[Any] = [None] * len(tasks)
        busy: dict[Connection, list[int]] = {}
        idle = [conn for _, conn in self._workers]
        while pending or busy:
            while pending and idle:
                conn, packet = idle.pop(), pending.pop(0)
                send_message(conn, [tasks[index] for index in packet])
                busy[conn] = packet
            if meanwhile is not None:
                meanwhile, work = None, meanwhile
                work()
            for conn in wait(list(busy)):
                packet = busy.pop(conn)  # type: ignore[call-overload]
                received = self._receive(conn)  # type: ignore[arg-type]
                for index, result in zip(packet, received, strict=True):
                    results[index] = result
                    if on_result is not None:
                        on_result(result)
                idle.append(conn)  # type: ignore[arg-type]
        return results

    def _receive(self, conn: Connection) -> Any:
        try:
            status, value = receive_message(conn)
        except (EOFError, OSError):
            codes = [p.exitcode for p, c in self._workers if c is conn]
            raise TrainingError(f"a worker process died (exit code {codes[0]})") from None
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop every worker (politely, then firmly)."""
        for _process, conn in self._workers:
            with contextlib.suppress(OSError, ValueError):
                send_message(conn, _STOP)
        for process, conn in self._workers:
            process.join(timeout=1)  # an idle worker stops at once; a busy one is not waited for
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
            conn.close()
        self._workers = []

    def __enter__(self) -> ProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _worker_main(
    conn: Connection,
    spec: ModelSpec,
    training: Mapping[str, Any],
    sites: Mapping[str, SiteData],
    parent: tuple[int, bool],
    inherited: Sequence[Connection],
) -> None:
    """A worker's life: one thread, build the executor, run tasks until told to stop (or
    until the parent is gone: ``parent`` is its pid and whether it forked from its main
    thread; ``inherited`` are the parent's pipe ends this fork copied, closed here)."""
    for other in inherited:
        other.close()
    exit_with_parent(parent[0], death_signal=parent[1])
    # What the worker inherits from its parent (imports, the sites' data) lives as long as it
    # does: frozen (an O(1) move), the worker's collections never walk it, nor write to the
    # pages it shares with the parent (Python's gc.freeze recipe for forked workers).
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)
    executor = SiteExecutor(spec, training, sites)
    while True:
        try:
            packet = receive_message(conn)
        except (EOFError, OSError):  # the parent is gone
            return
        if packet == _STOP:
            return
        try:
            send_message(conn, _execute(executor, packet))
        except OSError:  # BrokenPipeError: the parent is gone
            return


def _execute(executor: SiteExecutor, packet: Sequence[Task]) -> tuple[str, Any]:
    """Every task's result, or the first error (the parent then stops the run)."""
    try:
        return "ok", [executor.execute(task) for task in packet]
    except Exception as error:  # reported to the parent, which raises it
        text = "".join(traceback.format_exception(error))
        try:
            pickle.dumps(error)
        except Exception:
            return "error", RuntimeError(f"worker failed:\n{text}")
        return "error", error


PACKETS_PER_WORKER = 4
"""Tasks travel in packets: with 1,000 small sites one message per site cost more than the
training it carried, and a packet pickles the global state its tasks share once. Four packets
per worker still let a free worker take the next one while a slow packet finishes."""


def work_packets(costs: Sequence[float], count: int) -> list[list[int]]:
    """Task indices in at most ``count`` packets of near-equal total cost, heaviest first.

    Largest task first into the lightest packet (the LPT rule): with fewer tasks than
    ``count`` every task is a packet of its own.
    """
    count = max(1, min(count, len(costs)))
    packets: list[list[int]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for index in sorted(range(len(costs)), key=lambda i: -costs[i]):
        lightest = min(range(count), key=loads.__getitem__)
        packets[lightest].append(index)
        loads[lightest] += costs[index]
    ranked = sorted(range(count), key=lambda p: -loads[p])
    return [packets[p] for p in ranked if packets[p]]


MIN_WORK_FOR_WORKERS = 20_000
"""Training examples per round (windows x local epochs) below which workers do not pay:
starting them costs about a second, a small round trains faster than that in-process."""


SITES_PER_CORE_FOR_ONE_WORKER = 4 * PACKETS_PER_WORKER
"""From this many sites per core on, one worker per core: every packet then holds about four
sites, so packets of near-equal cost exist and no core waits for another's large site."""


def auto_workers(train_sizes: Sequence[int], local_epochs: int) -> int:
    """How many worker processes suit this federation on this machine (0 = none).

    With few sites, one per site, at most two per core: the operating system then shares the
    cores among single-threaded workers, which evens out unequal sites better than any fixed
    assignment of sites to cores. With many small sites (:data:`SITES_PER_CORE_FOR_ONE_WORKER`)
    packets of several sites each even the load out, and one worker per core is faster
    (1,000 sites: 16.0 s with two workers vs 16.9 s with four, mean of two runs).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cores or 1) < 2 or len(train_sizes) < 2:
        return 0
    if sum(train_sizes) * local_epochs < MIN_WORK_FOR_WORKERS:
        return 0
    if len(train_sizes) >= SITES_PER_CORE_FOR_ONE_WORKER * (cores or 1):
        return cores or 1
    return min(len(train_sizes), 2 * (cores or 1))


def make_runner(
    spec: ModelSpec,
    training: Mapping[str, Any],
    sites: Mapping[str, SiteData],
    workers: int,
) -> SiteRunner:
    """Worker processes when ``workers > 0``, else this process."""
    if workers > 0:
        return ProcessRunner(spec, training, sites, workers)
    return SequentialRunner(SiteExecutor(spec, training, sites))

