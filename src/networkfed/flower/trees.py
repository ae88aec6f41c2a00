"""Federated XGBoost on Flower: the tree engine's site work as Flower messages.

The round loop stays :class:`~networkfed.trees.engine.TreeEngine`'s (same sampling, same
bagging and cyclic arithmetic, same evaluation, same run folder and resume round), so a run on
Flower's simulation engine ends with the in-process engine's metrics. What travels:

========= ============================================== ==========================================
type      content sent                                   reply
========= ============================================== ==========================================
train     ``setup``; ``arrays``: ``booster`` (the global ``arrays``: ``whole`` and ``new``
          booster's JSON bytes as uint8, as Flower's     (trees), JSON bytes as uint8;
          FedXgbBagging / FedXgbCyclic send it);         ``metrics``: ``num-examples``,
          ``config``: site id, ``tree: boost``,          ``train_loss``
          XGBoost parameters, local rounds
evaluate  ``setup``, ``arrays`` (``booster``),           labels and failure probabilities of the
          ``config`` (site id, ``tree: predict``)        site's validation and test rows
========= ============================================== ==========================================

Flower's own FedXgbBagging keeps one tree per site and round (``num_parallel_tree``), so the
server appends with :func:`~networkfed.trees.booster.append_trees` instead (the same model
with one local round, every tree with more).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid, ServerApp
from flwr.simulation import run_simulation

from networkfed.core.errors import ConfigError, TrainingError
from networkfed.federated.evaluation import SplitPredictions
from networkfed.federated.results import RunResult
from networkfed.flower.messages import (
    ARRAYS,
    CONFIG,
    METRICS,
    NUM_EXAMPLES,
    SETUP,
    SiteSetup,
    predictions_content,
    predictions_from,
)
from networkfed.trees.booster import boost, load_booster
from networkfed.trees.features import tree_features
from networkfed.trees.sites import Boosted, SiteRows, predict_rows

logger = logging.getLogger(__name__)

__all__ = ["FlowerSites", "is_tree_message", "simulate_trees", "tree_reply"]

TREE, BOOSTER, SPLITS = "tree", "booster", ("val", "test")


def _bytes_array(data: bytes) -> Array:
    return Array(np.frombuffer(data, dtype=np.uint8).copy())


def _booster_record(model: bytes) -> ArrayRecord:
    return ArrayRecord({BOOSTER: _bytes_array(model)})


class FlowerSites:
    """:class:`~networkfed.trees.sites.TreeSites` on a :class:`GridRunner`'s nodes."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self._round = 0

    def boost(
        self, model: bytes, work: Sequence[tuple[str, dict[str, Any]]], rounds: int
    ) -> list[Boosted]:
        self._round += 1
        contents = {
            site: RecordDict({
                ARRAYS: _booster_record(model),
                CONFIG: ConfigRecord({"site-id": site, TREE: "boost",
                                      "params": json.dumps(params), "rounds": rounds}),
            })
            for site, params in work
        }
        replies = self.runner.exchange(contents, "train", f"tree-{self._round}")
        missing = [site for site, _ in work if site not in replies]
        if missing:
            raise TrainingError(f"no boosted trees from site(s) {', '.join(missing)}; the global "
                                "booster stays at the last saved round (resume once they are back)")
        return [_boosted(site, replies[site]) for site, _ in work]

    def predict(
        self, model: bytes, sites: Sequence[str]
    ) -> dict[str, dict[str, SplitPredictions]]:
        contents = {
            site: RecordDict({
                ARRAYS: _booster_record(model),
                CONFIG: ConfigRecord({"site-id": site, TREE: "predict"}),
            })
            for site in sites
        }
        replies = self.runner.exchange(contents, "evaluate", "tree-evaluate")
        missing = [site for site in sites if site not in replies]
        if missing:
            raise TrainingError(f"no predictions from site(s) {', '.join(missing)}")
        return {site: predictions_from(replies[site], SPLITS) for site in sites}


def _boosted(site: str, reply: Message) -> Boosted:
    arrays, metrics = reply.content[ARRAYS], reply.content[METRICS]
    return Boosted(site, arrays["whole"].numpy().tobytes(), arrays["new"].numpy().tobytes(),
                   float(metrics["train_loss"]), int(metrics[NUM_EXAMPLES]))


# --- site side ----------------------------------------------------------------------------------
def is_tree_message(content: RecordDict) -> bool:
    """Whether a train / evaluate message carries tree work."""
    return TREE in content[CONFIG]


def tree_reply(content: RecordDict, node_config: Mapping[str, Any]) -> RecordDict:
    """A site's tree work: boost from the global booster, or predict its val/test rows."""
    from networkfed.flower.site_work import load_site

    setup = SiteSetup.from_record(content[SETUP])
    config = content[CONFIG]
    site = load_site(node_config, setup, str(config["site-id"]))
    model = content[ARRAYS][BOOSTER].numpy().tobytes()
    rows: SiteRows = {
        split: (tree_features(part.x), part.y.numpy().astype(np.float32))
        for split, part in (("train", site.train), ("val", site.val), ("test", site.test))
    }
    if config[TREE] == "predict":
        return predictions_content(predict_rows(load_booster(model, {"nthread": 1}), rows,
                                                regression=site.test.y.is_floating_point()))
    x, y = rows["train"]
    whole, new, loss = boost(model, json.loads(str(config["params"])), x, y,
                             int(config["rounds"]))  # type: ignore[call-overload]
    return RecordDict({
        ARRAYS: ArrayRecord({"whole": _bytes_array(whole), "new": _bytes_array(new)}),
        METRICS: MetricRecord({NUM_EXAMPLES: len(y), "train_loss": loss}),
    })


# --- Flower's simulation engine ------------------------------------------------------------------
def simulate_trees(setup: Any) -> RunResult:
    """Run a tree ``setup`` (:class:`~networkfed.trees.setup.TreeSetup`) on Flower's
    simulation engine, one virtual SuperNode per site."""
    from networkfed.flower import client_app
    from networkfed.flower.engine import (
        _SERVING,
        SIMULATION_TIMEOUT,
        _SkipDeprecationNotice,
        backend_config,
    )
    from networkfed.flower.grid_runner import GridRunner
    from networkfed.trees.engine import TreeEngine

    if _SERVING.get() is not None:
        raise ConfigError("model", "xgboost", "a network model on a Flower deployment (xgboost "
                          "runs on the in-process engine and Flower's simulation engine)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    config, data = setup.config, setup.data
    results: list[RunResult] = []
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        site_setup = SiteSetup(data=config.data, seed=config.seed, fingerprint=data.fingerprint)
        runner = GridRunner(grid, site_setup, min_fit_clients=config.min_fit_clients,
                            timeout=SIMULATION_TIMEOUT)
        runner.discover(min_nodes=len(data.sites), wait=300.0)
        engine = TreeEngine(config, data, setup.hparams, setup.model, setup.callbacks,
                            sites=FlowerSites(runner))
        if setup.snapshot is not None:
            engine.restore(setup.snapshot)
        results.append(engine.run())

    flower_log, quiet = logging.getLogger("flwr"), _SkipDeprecationNotice()
    flower_log.addFilter(quiet)
    try:
        run_simulation(server_app=server, client_app=client_app.app,
                       num_supernodes=len(data.sites), backend_name="ray",
                       backend_config=backend_config())  # type: ignore[arg-type]
    finally:
        flower_log.removeFilter(quiet)
    if not results:
        raise TrainingError("the Flower simulation ended without a result (see its log above)")
    return results[0]
