"""The Flower ``ServerApp`` of a deployment (``flwr run . <connection>``).

A thin shell around :func:`networkfed.api.run_federated`:

1. read the run config once (:class:`~networkfed.flower.settings.FlowerSettings`);
2. wait for the sites' SuperNodes and ask each which site it serves, with its data report
   (sizes and sufficient statistics — no rows);
3. derive the federation's standardisation and the server's view of the sites from the reports
   (:func:`~networkfed.flower.federation_data.federation_data`); a source with fitted
   preprocessing (C-MAPSS) first has its state combined from the reports, and the sites report
   again after applying it; with bin columns (``feature_bins``) they report once more, with
   per-class histograms for the bin edges;
4. run the federation with the ``flower`` engine on this grid: NetworkFed's strategies
   aggregate, ``ModelManager`` checkpoints every round, and the run folder and report are the
   ones an in-process run writes (``run-dir`` on the SuperLink's machine; ``resume=true``
   continues it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from networkfed.startup import imports_for_life

# Flower loads this module in the process it starts for the run: its imports run with the
# collector paused and stay frozen (see networkfed.startup).
with imports_for_life():
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp

    from networkfed.api import run_federated
    from networkfed.core.errors import NetworkFedError
    from networkfed.data import DataConfig, FederatedData
    from networkfed.federated.callbacks import Callback
    from networkfed.federated.results import RoundResult
    from networkfed.flower.engine import serving
    from networkfed.flower.federation_data import federation_data, source_state, with_bin_edges
    from networkfed.flower.grid_runner import GridRunner
    from networkfed.flower.messages import SiteSetup
    from networkfed.flower.settings import FlowerSettings

logger = logging.getLogger(__name__)

__all__ = ["app", "discover_federation"]

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run a NetworkFed federation over the connected plants."""
    _log_to_console()
    try:
        settings = FlowerSettings.from_run_config(context.run_config)
        config = settings.config
        runner = _runner(grid, settings)
        data = discover_federation(runner, config.data, min_nodes=settings.min_nodes,
                                   wait=settings.node_wait_timeout)
        with serving(runner):
            result = run_federated(config, data, run_dir=settings.run_dir,
                                   progress=RoundLog(), resume=settings.resume)
    except NetworkFedError as error:
        logger.error("networkfed: %s", error)
        raise
    logger.info("run complete: %d rounds, final %s; run folder %s", result.rounds_completed,
                _headline(result.last.overall), settings.run_dir.resolve())


def _runner(grid: Grid, settings: FlowerSettings) -> GridRunner:
    """The grid's site runner; under ``secagg`` its training rounds go through SecAgg+."""
    config = settings.config
    options: dict[str, Any] = {"min_fit_clients": config.min_fit_clients,
                               "timeout": settings.round_timeout,
                               "straggler_timeout": settings.straggler_timeout}
    setup = SiteSetup(config.data, config.seed)
    if settings.secagg is None:
        return GridRunner(grid, setup, **options)
    from networkfed.flower.secagg import SecureGridRunner

    logger.info("secure aggregation (SecAgg+, Flower's legacy workflow): the server sees only "
                "the sum of the sites' updates")
    return SecureGridRunner(grid, setup, secagg=settings.secagg, **options)


def discover_federation(
    runner: GridRunner, config: DataConfig, *, min_nodes: int, wait: float
) -> FederatedData:
    """Steps 2-3: the connected sites and their reports, then the server's view of the data.

    A source with fitted preprocessing (C-MAPSS) has its state combined from the first
    reports; the sites then report again after applying it, since the standardisation is
    fitted on the transformed rows. With bin columns the sites report once more, with
    per-class histograms of their training rows standardised by the federation's statistics.
    """
    sites = runner.discover(min_nodes=min_nodes, wait=wait, report=True)
    logger.info("federation of %d sites: %s", len(sites), ", ".join(sorted(sites)))
    transform = source_state(runner.reports, config)
    if transform:
        runner.report_transformed(transform)
    data = federation_data(runner.reports, config, transform)
    if config.feature_bins:
        runner.report_histograms(data.preprocessing)
        data = with_bin_edges(data, runner.reports, config)
    return data


class RoundLog(Callback):
    """One log line per round, for ``flwr run --stream`` and ``flwr log``."""

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        logger.info("round %d: %s, loss %.4f, sites trained: %s", result.round_num,
                    _headline(result.overall), result.overall["loss"],
                    ", ".join(result.trained) or "-")


def _headline(overall: Mapping[str, Any]) -> str:
    """The test score a log line leads with: F1, or a RUL run's RMSE in cycles."""
    if "rmse" in overall:
        return f"test RMSE {overall['rmse']:.2f}"
    return f"test F1 {overall.get('f1', float('nan')):.4f}"


def _log_to_console() -> None:
    """Our progress lines in this process's output, which ``flwr run --stream`` shows."""
    library = logging.getLogger("networkfed")
    if not library.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("networkfed %(levelname)s: %(message)s"))
        library.addHandler(handler)
        library.setLevel(logging.INFO)
