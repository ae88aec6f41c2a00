"""Worker processes that keep the model and the site data resident across rounds.

On a small CPU, training these models is bound by per-operation overhead, not arithmetic
(``notes/cpu-speed.md``): two torch threads in one process fight each other, while one
single-threaded process per core scales. Each worker holds a :class:`SiteExecutor` (model,
trainer and every site's tensors, handed over once at start) and runs tasks as they come;
tasks go to whichever worker is free, largest first, so unequal sites still keep every core
busy. Site results do not depend on which worker ran them (see ``local_training``).

Tasks and results cross the pipes as plain pickled bytes (:func:`_send_message`).
``Connection.send`` would use torch's multiprocessing pickler, which moves every tensor into
shared memory and keeps a file descriptor open per tensor while it lives: with 1,000 sites'
updates held for aggregation that ran out of descriptors (``Too many open files``). Copying
the bytes costs far less than the training a message carries: tasks travel in packets of
many sites (:func:`work_packets`), and tensors are pickled as NumPy arrays.
"""

from __future__ import annotations

import contextlib
import io
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
from networkfed.data.types import SiteData
from networkfed.federated.execution import SequentialRunner, SiteExecutor, SiteRunner, Task
from networkfed.federated.local_training import ModelSpec
from networkfed.federated.packing import Layout, flat_values, layout, unpack
from networkfed.federated.types import SiteUpdate

logger = logging.getLogger(__name__)

__all__ = ["ProcessRunner", "auto_workers", "make_runner", "warm_up", "work_packets"]

_STOP = "stop"


class ProcessRunner:
    """Runs tasks on ``num_workers`` single-threaded worker processes.

    Workers start on first use and stop with :meth:`close` (or when this process exits:
    a worker whose parent disappears ends on its own).
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
        warm_up()
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        for index in range(self.num_workers):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_worker_main, args=(theirs, *self._setup), name=f"networkfed-worker-{index}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self._workers.append((process, ours))
        logger.debug("started %d worker processes", self.num_workers)

    def run(self, tasks: Sequence[Task], on_result: Callable[[Any], None] | None = None) -> list:
        """Run ``tasks`` in packets, heaviest first on the next free worker; results in task
        order."""
        self.start()
        costs = [task.cost for task in tasks]
        pending = work_packets(costs, PACKETS_PER_WORKER * len(self._workers))
        results: list[Any] = [None] * len(tasks)
        busy: dict[Connection, list[int]] = {}
        idle = [conn for _, conn in self._workers]
        while pending or busy:
            while pending and idle:
                conn, packet = idle.pop(), pending.pop(0)
                _send_message(conn, [tasks[index] for index in packet])
                busy[conn] = packet
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
            status, value = _receive_message(conn)
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
                _send_message(conn, _STOP)
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
    conn: Connection, spec: ModelSpec, training: Mapping[str, Any], sites: Mapping[str, SiteData]
) -> None:
    """A worker's life: one thread, build the executor, run tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    torch.set_num_threads(1)
    executor = SiteExecutor(spec, training, sites)
    while True:
        try:
            packet = _receive_message(conn)
        except (EOFError, OSError):  # the parent is gone
            return
        if packet == _STOP:
            return
        _send_message(conn, _execute(executor, packet))


def _send_message(conn: Connection, message: Any) -> None:
    """Send ``message`` as pickle bytes: tensors are copied, no descriptor stays open."""
    buffer = io.BytesIO()
    _TensorPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    conn.send_bytes(buffer.getbuffer())


def _receive_message(conn: Connection) -> Any:
    """The next message of :func:`_send_message`."""
    return pickle.loads(conn.recv_bytes())


_NUMPY_DTYPES = frozenset({
    torch.float64, torch.float32, torch.float16, torch.int64, torch.int32, torch.int16,
    torch.int8, torch.uint8, torch.bool,
})
"""Tensor dtypes NumPy can hold (bfloat16, for one, cannot: torch pickles those itself)."""


def _is_plain(tensor: Any) -> bool:
    """A CPU tensor NumPy can hold (anything else goes through torch's own pickling)."""
    return type(tensor) is torch.Tensor and tensor.device.type == "cpu" and (
        tensor.dtype in _NUMPY_DTYPES)


class _TensorPickler(pickle.Pickler):
    """Pickles plain CPU tensors as NumPy arrays: ~20x faster than torch's own reduction,
    which runs ``torch.save`` per storage (a model state is dozens of small tensors).

    A :class:`SiteUpdate` travels packed, one flat array per dtype (``federated.packing``): at
    1,000 sites the parent otherwise rebuilt ~32 arrays per update, 100,000 a run, and that
    alone took longer than the aggregation.
    """

    def reducer_override(self, obj: Any) -> Any:
        if _is_plain(obj):
            return torch.from_numpy, (obj.detach().numpy(),)
        if type(obj) is SiteUpdate and all(_is_plain(t) for t in obj.state.values()):
            return _unpack_update, (obj.site_id, layout(obj.state), flat_values(obj.state),
                                    obj.num_examples, obj.metrics)
        return NotImplemented


def _unpack_update(
    site_id: str, keys: Layout, flat: dict[torch.dtype, torch.Tensor], num_examples: int,
    metrics: dict[str, float],
) -> SiteUpdate:
    """A :class:`SiteUpdate` sent by :class:`_TensorPickler`, packed as it was sent."""
    return SiteUpdate(site_id, unpack(keys, flat), num_examples, metrics)


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


def warm_up() -> None:
    """Import what the first optimiser step imports (``torch._dynamo``, 2-3 s) once, here,
    so forked workers inherit it instead of each paying for it inside the first round."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    parameter.grad = torch.zeros(1)
    torch.optim.Adam([parameter], fused=True).step()
