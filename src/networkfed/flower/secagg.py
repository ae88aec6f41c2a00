"""Secure aggregation (SecAgg+) for ``flower up --secagg``: the server learns only the sum.

Flower 1.42 implements SecAgg+ only in its *legacy* workflow API
(``flwr.server.workflow.SecAggPlusWorkflow`` with a ``LegacyContext`` and a legacy
``Strategy``; ``flwr.client.mod.secaggplus_mod`` on the site), not in the Message API the rest of
NetworkFed's Flower app uses. So a secure run keeps NetworkFed's round loop, evaluation,
checkpoints and run folder, and only each round's *training exchange* goes through Flower's
workflow (:class:`SecureGridRunner`):

1. the workflow's four stages run over the deployment's grid — setup (public keys), share keys
   (Shamir shares of each site's secrets, encrypted for its neighbours), collect masked vectors
   (each site trains, then uploads ``[w, w x delta]`` quantised and masked, ``w`` its training
   examples / ``max_weight``), unmask (shares of the survivors' seeds and of the dropped sites'
   keys remove the masks);
2. what comes out is ``sum(w_i x delta_i) / sum(w_i)`` — the example-weighted FedAvg mean of the
   sites' float updates, exact up to the quantisation error;
3. the engine gets one update per contributing site, each carrying that *same* aggregate state
   with the site's example count and its (clear-text) training metrics, so the run's strategy
   (FedAvg, FedProx, FedAvgM, FedAdam, ...) turns the identical states into the aggregate and
   applies its own server step as usual.

What the server still sees, as in Flower's protocol: each site's number of training examples and
its training loss, and (for the alarm threshold) each site's predictions of the *global* model.
Integer buffers (BatchNorm's batch counter) are not part of the secure sum: they keep the global
value. Rules that need individual updates cannot run on a sum and are refused
(:func:`~networkfed.flower.secagg_settings.check_secure_config`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from flwr.app import ConfigRecord, Context, RecordDict
from flwr.common import FitIns, FitRes, Parameters, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server import ServerConfig
from flwr.server.client_manager import ClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import Strategy
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.serverapp import Grid
from torch import Tensor

from networkfed.core.errors import TrainingError
from networkfed.federated.execution import Task
from networkfed.federated.types import SiteUpdate
from networkfed.flower.grid_runner import GridRunner
from networkfed.flower.messages import SiteSetup
from networkfed.flower.secagg_settings import SecAggSettings
from networkfed.flower.secagg_site import (
    SECURE_CONFIG,
    SECURE_SETUP,
    STATE_KEYS,
    float_keys,
)

logger = logging.getLogger(__name__)

__all__ = ["SecureGridRunner"]

class SecureGridRunner(GridRunner):
    """A :class:`GridRunner` whose training rounds go through SecAgg+ (see module notes)."""

    def __init__(self, grid: Grid, setup: SiteSetup, *, secagg: SecAggSettings,
                 **kwargs: Any) -> None:
        super().__init__(grid, setup, **kwargs)
        self.secagg = secagg

    def run(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[Any], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list:
        """Training tasks: one secure round; anything else as :class:`GridRunner` does."""
        if not tasks or any(task.kind != "train" for task in tasks):
            return super().run(tasks, on_result, meanwhile)
        sites = [str(task.payload[1]) for task in tasks]
        self._find_missing(sites)
        present = [(task, site) for task, site in zip(tasks, sites, strict=True)
                   if site in self.nodes]
        for site in sorted(set(sites) - {site for _, site in present}):
            logger.warning("site %r has no connected SuperNode; it is left out", site)
        if meanwhile is not None:  # the previous round's report, before the protocol blocks
            meanwhile()
        updates = self._secure_round(present)
        for update in updates:
            if on_result is not None:
                on_result(update)
        self._require_updates(tasks, sites, {update.site_id for update in updates})
        return updates

    def _secure_round(self, present: Sequence[tuple[Task, str]]) -> list[SiteUpdate]:
        round_num = present[0][0].payload[2].round_num if present else 0
        if len(present) < 3:
            raise TrainingError(f"round {round_num}: only {len(present)} site(s) connected; "
                                "secure aggregation needs at least 3")
        global_state: Mapping[str, Tensor] = present[0][0].payload[0]
        site_of = {self.nodes[site]: site for _, site in present}
        fitins = {self.nodes[site]: _fit_ins(self.setup, global_state, task, site)
                  for task, site in present}
        strategy = _OneSecureRound(self.grid, fitins)
        shares, threshold = self.secagg.resolved(len(present))
        workflow = SecAggPlusWorkflow(
            shares, threshold, max_weight=float(max(self._train_sizes(site_of.values()))),
            clipping_range=self.secagg.clipping_range,
            quantization_range=self.secagg.quantization_range, timeout=self.timeout,
        )
        workflow(self.grid, _legacy_context(strategy, global_state, round_num))
        if strategy.results is None:
            raise TrainingError(f"round {round_num}: secure aggregation halted: fewer than "
                                f"{threshold} (--secagg-threshold) of {len(present)} sites "
                                "answered every stage; the global model stays at round "
                                f"{round_num - 1} (restart the missing SuperNodes and resume)")
        state = _apply_mean_delta(global_state, strategy.aggregate)
        updates = [SiteUpdate(site_of[node], state, int(res.num_examples),
                              {k: float(v) for k, v in res.metrics.items()})  # type: ignore[arg-type]
                   for node, res in strategy.results]
        logger.info("round %d: secure aggregate of %d sites (%s)", round_num, len(updates),
                    ", ".join(sorted(update.site_id for update in updates)))
        return sorted(updates, key=lambda update: update.site_id)

    def _train_sizes(self, sites: Any) -> list[int]:
        """Training windows per site from the data reports: SecAgg+'s ``max_weight`` must bound
        every site's example count, and the tightest bound quantises most finely."""
        sizes = []
        for site in sites:
            counts = self.reports.get(site, {}).get("label_counts", {}).get("train")
            sizes.append(int(sum(counts)) if counts else 1000)
        return sizes

    def _require_updates(self, tasks: Sequence[Task], sites: Sequence[str],
                         trained: set[str]) -> None:
        if len(trained) < self.min_fit_clients:
            round_num = tasks[0].payload[2].round_num
            missing = ", ".join(sorted(set(sites) - trained))
            raise TrainingError(
                f"round {round_num}: only {len(trained)} of {len(sites)} sampled sites "
                f"contributed to the secure sum (none from {missing}), fewer than "
                f"min_fit_clients={self.min_fit_clients}; the global model stays at round "
                f"{round_num - 1}"
            )


class _OneSecureRound(Strategy):
    """The legacy ``Strategy`` the workflow asks: our prepared instructions out, the unmasked
    aggregate and each contributor's clear-text ``FitRes`` (weight, metrics) back."""

    def __init__(self, grid: Grid, fitins: Mapping[int, FitIns]) -> None:
        self.fitins = dict(fitins)
        self.proxies = [GridClientProxy(node, grid, 0) for node in self.fitins]
        self.results: list[tuple[int, FitRes]] | None = None
        self.aggregate: list[np.ndarray] = []

    def initialize_parameters(self, client_manager: ClientManager) -> Parameters | None:
        return None

    def configure_fit(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, FitIns]]:
        return [(proxy, self.fitins[proxy.node_id]) for proxy in self.proxies]

    def aggregate_fit(
        self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
        failures: list[Any],
    ) -> tuple[Parameters | None, dict[str, Any]]:
        if failures:
            logger.warning("round %d: %d site(s) dropped out of the secure round; their masks "
                           "were removed with the others' shares", server_round, len(failures))
        self.results = [(int(proxy.node_id), res) for proxy, res in results]  # type: ignore[attr-defined]
        if results:  # the workflow put the unmasked weighted mean in every result
            self.aggregate = parameters_to_ndarrays(results[0][1].parameters)
        return None, {}

    def configure_evaluate(self, *args: Any) -> list:
        return []

    def aggregate_evaluate(self, *args: Any) -> tuple[None, dict[str, Any]]:
        return None, {}

    def evaluate(self, *args: Any) -> None:
        return None


def _fit_ins(setup: ConfigRecord, state: Mapping[str, Tensor], task: Task, site: str) -> FitIns:
    """The site's training instructions in the legacy ``FitIns`` shape the workflow forwards:
    the global state's arrays, and our setup and instructions as JSON config values."""
    keys = list(state)
    arrays = [state[key].detach().cpu().numpy() for key in keys]
    config = {**task.payload[2].to_config(), "site-id": site}
    return FitIns(ndarrays_to_parameters(arrays), {
        SECURE_SETUP: json.dumps(dict(setup)), SECURE_CONFIG: json.dumps(config),
        STATE_KEYS: json.dumps(keys),
    })


def _legacy_context(
    strategy: _OneSecureRound, state: Mapping[str, Tensor], round_num: int
) -> Context:
    """What the legacy workflow reads: the round number and the current parameters."""
    context = LegacyContext(Context(run_id=0, node_id=0, node_config={}, state=RecordDict(),
                                    run_config={}), ServerConfig(num_rounds=1), strategy)
    for proxy in strategy.proxies:  # for the workflow's log line ("sampled 3 out of 3")
        context.client_manager.register(proxy)
    arrays = [tensor.detach().cpu().numpy() for tensor in state.values()]
    context.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord(
        {WorkflowKey.CURRENT_ROUND: round_num})
    context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
        ndarrays_to_parameters(arrays), True)
    return context


def _apply_mean_delta(global_state: Mapping[str, Tensor],
                      mean_delta: Sequence[np.ndarray]) -> dict[str, Tensor]:
    """Global state + the secure mean of the float deltas; integer buffers stay as they were."""
    keys = float_keys(global_state)
    if len(mean_delta) != len(keys):
        raise TrainingError(f"the secure aggregate has {len(mean_delta)} arrays, the model "
                            f"{len(keys)} float tensors")
    state = {key: tensor.clone() for key, tensor in global_state.items()}
    for key, delta in zip(keys, mean_delta, strict=True):
        reference = global_state[key]
        total = reference.double() + torch.from_numpy(np.asarray(delta, dtype=np.float64))
        state[key] = total.reshape(reference.shape).to(reference.dtype)
    return state
