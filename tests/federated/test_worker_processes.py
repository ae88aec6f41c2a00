"""Worker processes: same results as this process, errors come back, nothing left running."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

from engine_helpers import tiny_config, tiny_data
from networkfed.api import model_settings
from networkfed.federated import workers as workers_module
from networkfed.federated.execution import SequentialRunner, SiteExecutor, Task
from networkfed.federated.local_training import FitInstructions
from networkfed.federated.workers import ProcessRunner, auto_workers, work_packets


def _setup() -> tuple:
    data = tiny_data()
    spec, training = model_settings(tiny_config(), data)
    return data, spec, training, spec.build(seed=1).get_parameters()


@pytest.mark.slow
def test_workers_return_what_this_process_computes_in_task_order() -> None:
    # Prepare
    data, spec, training, state = _setup()
    instructions = FitInstructions(1, 1, (0.5, 9.0), seed=3)
    tasks = [Task("train", (state, site, instructions), len(data.sites[site].train))
             for site in data.site_ids]
    tasks += [Task("predict", (state, site, ("test",)), 1.0) for site in data.site_ids]
    seen: list = []

    # Execute
    with ProcessRunner(spec, training, data.sites, num_workers=2) as workers:
        remote = workers.run(tasks, seen.append)
        processes = [process for process, _ in workers._workers]
    local = SequentialRunner(SiteExecutor(spec, training, data.sites)).run(tasks)

    # Assert
    assert len(seen) == len(tasks)
    for mine, theirs in zip(local[:3], remote[:3], strict=True):
        assert mine.site_id == theirs.site_id and list(mine.state) == list(theirs.state)
        for key, value in mine.state.items():  # updates travel packed: one array per dtype
            assert (theirs.state[key].shape, theirs.state[key].dtype) == (value.shape, value.dtype)
            assert bool((value == theirs.state[key]).all())
    for mine, theirs in zip(local[3:], remote[3:], strict=True):
        np.testing.assert_array_equal(mine["test"].probability, theirs["test"].probability)
    assert not any(process.is_alive() for process in processes)


@pytest.mark.slow
def test_meanwhile_runs_once_after_the_tasks_are_out_and_before_any_result() -> None:
    """The engine scores round 0 while round 1 trains: ``meanwhile`` runs here once the
    workers hold the tasks, before a result is taken in; the results do not change."""
    data, spec, training, state = _setup()
    instructions = FitInstructions(1, 1, (0.5, 9.0), seed=3)
    tasks = [Task("train", (state, site, instructions), len(data.sites[site].train))
             for site in data.site_ids]
    events: list[str] = []
    with ProcessRunner(spec, training, data.sites, num_workers=2) as workers:
        remote = workers.run(tasks, lambda _: events.append("result"),
                             meanwhile=lambda: events.append("meanwhile"))
    local_events: list[str] = []
    local = SequentialRunner(SiteExecutor(spec, training, data.sites)).run(
        tasks, lambda _: local_events.append("result"),
        meanwhile=lambda: local_events.append("meanwhile"))
    assert events == local_events == ["meanwhile"] + ["result"] * len(tasks)
    for mine, theirs in zip(local, remote, strict=True):
        assert all(bool((v == theirs.state[k]).all()) for k, v in mine.state.items())


@pytest.mark.slow
def test_an_error_in_a_worker_is_raised_here() -> None:
    data, spec, training, state = _setup()
    with ProcessRunner(spec, training, data.sites, num_workers=1) as workers, \
            pytest.raises(KeyError, match="no_such_site"):
        workers.run([Task("predict", (state, "no_such_site", ("test",)), 1.0)])


class _FreezeCountExecutor:
    """Stands in for the worker's executor: answers how many objects its process froze."""

    def __init__(self, *_setup: object) -> None:
        pass

    def execute(self, _task: Task) -> int:
        return gc.get_freeze_count()


def test_a_worker_freezes_what_it_inherits_so_its_collections_leave_it_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forked workers share the parent's pages; the worker's garbage collections must not
    walk (and so write to) the objects it inherited, so it freezes them first."""
    data, spec, training, _state = _setup()
    monkeypatch.setattr(workers_module, "SiteExecutor", _FreezeCountExecutor)  # forked: inherited
    inherited = len(gc.get_objects()) + gc.get_freeze_count()
    with ProcessRunner(spec, training, data.sites, num_workers=1) as workers:
        [frozen] = workers.run([Task("predict", None, 1.0)])
    assert frozen >= 0.9 * inherited
    assert gc.isenabled()


def test_small_federations_train_in_this_process() -> None:
    assert auto_workers([200, 200, 200], local_epochs=1) == 0
    assert auto_workers([5000], local_epochs=3) == 0


def test_few_sites_get_a_worker_each_and_many_sites_one_per_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert auto_workers([9000, 5000, 3000], local_epochs=3) == 3
    assert auto_workers([9000] * 5, local_epochs=3) == 4
    assert auto_workers([900] * 31, local_epochs=3) == 4
    assert auto_workers([900] * 32, local_epochs=3) == 2
    assert auto_workers([30] * 1000, local_epochs=3) == 2


@pytest.mark.slow
def test_many_results_held_at_once_keep_no_file_descriptors_open() -> None:
    # Prepare: 300 site updates (a whole model state each), held together as for aggregation
    data, spec, training, state = _setup()
    instructions = FitInstructions(1, 1, (0.5, 9.0), seed=3)
    tasks = [Task("train", (state, data.site_ids[i % 3], instructions), 1.0) for i in range(300)]
    open_before = len(os.listdir("/proc/self/fd"))
    # Execute
    with ProcessRunner(spec, training, data.sites, num_workers=2) as workers:
        results = workers.run(tasks)
        open_while_held = len(os.listdir("/proc/self/fd"))
    # Assert: only the workers' pipes, not one descriptor per received tensor
    assert len(results) == 300 and len(results[0].state) > 10
    assert open_while_held - open_before <= 8


def test_work_packets_balance_cost_and_keep_every_task_once() -> None:
    # Execute
    packets = work_packets([5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 4.0], count=3)
    many = work_packets([1.0] * 1000, count=8)
    # Assert
    assert sorted(i for packet in packets for i in packet) == list(range(7))
    assert packets[0] == [0]  # the heaviest task alone is the heaviest packet, sent first
    assert sorted(len(packet) for packet in many) == [125] * 8
    assert work_packets([2.0, 3.0], count=8) == [[1], [0]]  # fewer tasks: one packet each
    assert work_packets([], count=4) == []
