"""The ``flower`` engine: NetworkFed's own round loop with each site's work on a Flower node.

Importing this module registers the engine with :func:`networkfed.api.register_engine`, so
``run_federated(RunConfig(engine="flower"))`` and ``networkfed simulate --engine flower`` use it:

* called by a user (no Flower server around): the run goes to Flower's simulation engine
  (``flwr.simulation.run_simulation``, Ray backend, one CPU per virtual SuperNode). The
  ``ServerApp`` is built here around the run's settings, the ``ClientApp`` is the package's
  own (:mod:`networkfed.flower.client_app`), and virtual site ``partition-id`` trains on the
  run's site of that index;
* called inside the deployment ``ServerApp`` (:mod:`networkfed.flower.server_app`, which set
  the grid up with :func:`serving`): the rounds go to the plants' SuperNodes.

Either way the rounds are :class:`~networkfed.federated.engine.InProcessEngine`'s, with a
:class:`~networkfed.flower.grid_runner.GridRunner` as its site runner: same sampling, same
strategies, same evaluation, same run folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from flwr.simulation import run_simulation

from networkfed.api import RunSetup, register_engine
from networkfed.core.errors import TrainingError
from networkfed.federated.engine import InProcessEngine
from networkfed.federated.results import RunResult
from networkfed.federated.workers import make_runner
from networkfed.flower import client_app
from networkfed.flower.grid_runner import GridRunner
from networkfed.flower.messages import SiteSetup

logger = logging.getLogger(__name__)

__all__ = ["backend_config", "run_flower", "run_rounds", "serving", "site_setup"]

SIMULATION_TIMEOUT = 24 * 3600.0
"""Virtual SuperNodes never disconnect: wait as long as the work takes."""

_SERVING: ContextVar[GridRunner | None] = ContextVar("networkfed_flower_grid", default=None)


@contextmanager
def serving(runner: GridRunner) -> Iterator[None]:
    """Within this block, ``engine="flower"`` runs on ``runner``'s grid (a deployment)."""
    token = _SERVING.set(runner)
    try:
        yield
    finally:
        _SERVING.reset(token)


def site_setup(setup: RunSetup, *, deployed: bool) -> SiteSetup:
    """What every site is sent; deployed sites also get the federation's standardisation."""
    return SiteSetup(
        data=setup.config.data, seed=setup.config.seed, fingerprint=setup.data.fingerprint,
        spec=setup.spec, training=setup.training,
        preprocessing=setup.data.preprocessing if deployed else None,
    )


def run_rounds(setup: RunSetup, runner: GridRunner) -> RunResult:
    """The engine's round loop with site work on Flower nodes (continuing a snapshot)."""
    engine = InProcessEngine(setup.config, setup.data, setup.model, setup.spec, setup.training,
                             setup.strategy, runner, setup.callbacks)
    if setup.snapshot is not None:
        engine.restore(setup.snapshot)
    return engine.run()


def run_flower(setup: RunSetup) -> RunResult:
    """The registered engine: a deployment's grid when serving, else Flower's simulation."""
    runner = _SERVING.get()
    if runner is None:
        return simulate(setup)
    runner.configure(site_setup(setup, deployed=True))
    return run_rounds(setup, runner)


def backend_config() -> dict[str, Any]:
    """Ray: one CPU per virtual SuperNode, as many at once as cores, no dashboard, quiet."""
    return {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {"num_cpus": os.cpu_count() or 1, "num_gpus": 0,
                      "include_dashboard": False, "logging_level": "ERROR",
                      "log_to_driver": False},
    }


def simulate(setup: RunSetup) -> RunResult:
    """Run ``setup`` on Flower's simulation engine, one virtual SuperNode per site."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by Ray's workers
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # CPU only, no notice
    results: list[RunResult] = []
    flower_log = logging.getLogger("flwr")
    quiet = _SkipDeprecationNotice()
    flower_log.addFilter(quiet)
    try:
        run_simulation(
            server_app=_simulation_server_app(setup, results),
            client_app=client_app.app,
            num_supernodes=len(setup.data.sites),
            backend_name="ray",
            backend_config=backend_config(),  # type: ignore[arg-type]
        )
    finally:
        flower_log.removeFilter(quiet)
    if not results:
        raise TrainingError("the Flower simulation ended without a result (see its log above)")
    return results[0]


def _simulation_server_app(setup: RunSetup, results: list[RunResult]) -> ServerApp:
    """A ``ServerApp`` bound to this run (the Python API passes no run config)."""
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        local = make_runner(setup.spec, setup.training, setup.data.sites, 0)
        runner = GridRunner(grid, site_setup(setup, deployed=False),
                            min_fit_clients=setup.config.min_fit_clients,
                            timeout=SIMULATION_TIMEOUT, local=local)
        runner.discover(min_nodes=len(setup.data.sites), wait=300.0)
        results.append(run_rounds(setup, runner))

    return server


class _SkipDeprecationNotice(logging.Filter):
    """Flower 1.42 calls its Python simulation API deprecated in favour of ``flwr run``; that
    API is the one that runs an in-process ``ServerApp`` object, so the notice is noise here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "run_simulation" not in record.getMessage()


register_engine("flower", run_flower)
