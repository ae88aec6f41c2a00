"""The round loop of federated XGBoost, beside (not inside) the tensor engine.

Each round follows Flower's recipes: under ``xgb-bagging`` every sampled site boosts
``local_epochs`` new trees from the global booster on its own rows, and the server appends them
all (each site's learning rate scaled by 1 / sites, as Flower's example does, so the appended
trees add up to about one step); under ``xgb-cyclic`` one site a round, in turn, refines the
whole booster and sends it back. Evaluation, the alarm threshold, callbacks, the run folder and
the baselines are the networks' own (:func:`~networkfed.federated.evaluation.evaluate_predictions`,
:class:`~networkfed.federated.callbacks.History`, ...), so results read the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from networkfed.core.errors import TrainingError
from networkfed.data.types import FederatedData
from networkfed.federated.callbacks import Callback, CallbackList, History
from networkfed.federated.config import RunConfig
from networkfed.federated.evaluation import Evaluation, SplitPredictions, evaluate_predictions
from networkfed.federated.health import finished_run
from networkfed.federated.results import BaselineResults, RoundResult, RunResult
from networkfed.federated.sampling import sample_sites, simulate_dropouts
from networkfed.federated.types import SiteUpdate
from networkfed.trees.booster import append_trees, boost, initial_booster
from networkfed.trees.features import tree_features
from networkfed.trees.params import booster_params, scale_pos_weight
from networkfed.trees.sites import LocalSites, SiteRows, TreeSites

logger = logging.getLogger(__name__)

__all__ = ["TreeEngine", "site_rows"]


def site_rows(data: FederatedData) -> dict[str, SiteRows]:
    """Every site's splits as tree features (computed once: trees never see tensors); labels
    as float32, XGBoost's label type (class labels, or remaining life in a RUL run)."""
    return {
        site_id: {
            split: (tree_features(part.x), part.y.numpy().astype(np.float32))
            for split, part in (("train", site.train), ("val", site.val), ("test", site.test))
        }
        for site_id, site in data.sites.items()
    }


class TreeEngine:
    """Runs federated XGBoost rounds in this process (each site on one thread).

    Parameters
    ----------
    config, data
        The run settings (``model='xgboost'``) and every site's data.
    hparams
        The tree settings (:func:`~networkfed.trees.params.tree_hparams`).
    model
        The global booster's JSON: empty, or the last saved round's when resuming.
    callbacks
        Called in order after the engine's own :class:`History`.
    """

    def __init__(
        self,
        config: RunConfig,
        data: FederatedData,
        hparams: Mapping[str, float | int],
        model: bytes | None,
        callbacks: Sequence[Callback] = (),
        sites: TreeSites | None = None,
    ) -> None:
        self.config, self.data, self.hparams = config, data, dict(hparams)
        self.rows = site_rows(data)
        self.rul_cap = _rul_cap(config, data)
        """The target cap of a RUL run (``reg:squarederror``); ``None``: failure classifier."""
        self.regression = self.rul_cap is not None
        self.sites: TreeSites = (sites if sites is not None
                                 else LocalSites(self.rows, self.regression))
        """Where site work runs (here, or Flower nodes); baselines always run here."""
        self.pos_weight = self._pos_weight([r["train"][1] for r in self.rows.values()])
        self.num_features = next(iter(self.rows.values()))["train"][0].shape[1]
        self.model: bytes = model if model is not None else initial_booster(
            self.num_features, self._params(0, 0))
        self.strategy = config.strategy
        self.site_layers = None
        self.history = History()
        self.callbacks = CallbackList([self.history, *callbacks])
        self.completed_round = -1
        self.notes: dict[str, Any] = {}
        self._elapsed_before, self._started = 0.0, time.perf_counter()

    # --- the loop ------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run the remaining rounds, then the baselines; return the result."""
        config, self._started = self.config, time.perf_counter()
        self.callbacks.on_train_begin(self)
        last: RoundResult | None = None
        if self.completed_round < 0:
            last = RoundResult(0, self._evaluate(self.model))
            self.completed_round = 0
            self._report(last)
        stopped = False
        for round_num in range(self.completed_round + 1, config.rounds + 1):
            started = time.perf_counter()
            sampled, online, dropped = self._sites_of(round_num)
            self.callbacks.on_round_begin(round_num, online)
            self.model, train_metrics = self._train_round(round_num, online)
            last = RoundResult(
                round_num=round_num,
                evaluation=self._evaluate(self.model),
                sampled=tuple(sampled),
                dropped=tuple(dropped),
                trained=tuple(online),
                train_metrics=train_metrics,
                learning_rate=float(self._params(round_num, 0)["eta"]),
                seconds=time.perf_counter() - started,
            )
            self.completed_round = round_num
            if self._report(last):
                stopped = round_num < config.rounds
                break
        baselines = self._baselines() if config.baselines else BaselineResults()
        result = self._result(last, baselines, stopped)
        self.callbacks.on_train_end(result)
        return result

    def _sites_of(self, round_num: int) -> tuple[list[str], list[str], list[str]]:
        """(sampled, online, dropped): bagging samples as the networks do; cyclic takes the
        sites in turn, one a round (Flower's FedXgbCyclic)."""
        config, site_ids = self.config, self.data.site_ids
        if config.strategy == "xgb-cyclic":
            site = site_ids[(round_num - 1) % len(site_ids)]
            return [site], [site], []
        sampled = sample_sites(site_ids, config.fraction_fit, config.min_fit_clients,
                               config.seed, round_num)
        online, dropped = simulate_dropouts(sampled, config.site_dropout_rate, config.seed,
                                            round_num)
        if len(online) < config.min_fit_clients:
            raise TrainingError(
                f"round {round_num}: only {len(online)} site(s) left ({len(dropped)} of "
                f"{len(sampled)} dropped out), fewer than min_fit_clients="
                f"{config.min_fit_clients}; the global model stays at round {round_num - 1} "
                "(lower --min-fit-clients to continue with fewer sites)")
        return sampled, online, dropped

    def _train_round(
        self, round_num: int, online: Sequence[str]
    ) -> tuple[bytes, dict[str, dict[str, float]]]:
        """The next global booster from the online sites, and their training metrics."""
        work = [(site, self._params(round_num, self.data.site_ids.index(site)))
                for site in online]  # sorted by the sampler: the order never depends on timing
        done = self.sites.boost(self.model, work, self.config.local_epochs)
        metrics: dict[str, dict[str, float]] = {}
        for (site, params), result in zip(work, done, strict=True):
            metrics[site] = {"train_loss": result.train_loss, "learning_rate": float(params["eta"])}
            self.callbacks.on_site_trained(round_num, SiteUpdate(site, {}, result.num_examples,
                                                                 metrics[site]))
        merged = (append_trees(self.model, *(result.new for result in done))
                  if self.config.strategy == "xgb-bagging" else done[-1].whole)
        return merged, metrics

    def _params(self, round_num: int, site_index: int) -> dict[str, Any]:
        """Booster parameters of one site's boosting; the seed differs by round and site so
        their row subsamples differ, and repeats with the run's seed."""
        scale = 1.0 / len(self.data.sites) if self.config.strategy == "xgb-bagging" else 1.0
        seed = self.config.seed * 1_000_003 + round_num * 1009 + site_index
        return booster_params(self.hparams, seed=seed, pos_weight=self.pos_weight,
                              eta_scale=scale, rul_cap=self.rul_cap)

    def _pos_weight(self, labels: list[np.ndarray]) -> float:
        """``scale_pos_weight`` of these labels (1 for a RUL target: it has no classes)."""
        return 1.0 if self.regression else scale_pos_weight(labels, self.config.class_weighting)

    def _report(self, result: RoundResult) -> bool:
        stop, self.notes = self.callbacks.after_round(result)
        return stop

    # --- evaluation ----------------------------------------------------------------------------
    def predictions(
        self, model: bytes, sites: Sequence[str] | None = None, *, local: bool = False
    ) -> tuple[dict[str, SplitPredictions], dict[str, SplitPredictions]]:
        """Validation and test predictions of ``model`` on ``sites`` (default: all), by the
        sites (``local``: here, as for the baselines)."""
        chosen = self.data.site_ids if sites is None else list(sites)
        worker = LocalSites(self.rows, self.regression) if local else self.sites
        found = worker.predict(model, chosen)
        return ({s: found[s]["val"] for s in chosen}, {s: found[s]["test"] for s in chosen})

    def _evaluate(self, model: bytes) -> Evaluation:
        return evaluate_predictions(*self.predictions(model))

    # --- baselines -----------------------------------------------------------------------------
    def _baselines(self) -> BaselineResults:
        """Centralized XGBoost on the pooled training rows and each site alone, boosted for as
        many rounds as the federation's trees took (rounds x local rounds) at the unscaled
        learning rate."""
        site_ids = self.data.site_ids
        rounds = self.config.rounds * self.config.local_epochs
        self.callbacks.on_baselines_begin(["centralized", *(f"local/{s}" for s in site_ids)])
        params = booster_params(self.hparams, seed=self.config.seed, pos_weight=self.pos_weight,
                                rul_cap=self.rul_cap)
        empty = initial_booster(self.num_features, params)
        pooled_x = np.concatenate([self.rows[s]["train"][0] for s in site_ids])
        pooled_y = np.concatenate([self.rows[s]["train"][1] for s in site_ids])
        centralized_model = boost(empty, params, pooled_x, pooled_y, rounds)[0]
        self.callbacks.on_baseline_trained(1)
        centralized = evaluate_predictions(*self.predictions(centralized_model, local=True))
        val: dict[str, SplitPredictions] = {}
        test: dict[str, SplitPredictions] = {}
        for done, site in enumerate(site_ids, start=2):
            x, y = self.rows[site]["train"]
            own = booster_params(self.hparams, seed=self.config.seed,
                                 pos_weight=self._pos_weight([y]), rul_cap=self.rul_cap)
            local_model = boost(empty, own, x, y, rounds)[0]
            site_val, site_test = self.predictions(local_model, [site], local=True)
            val.update(site_val)
            test.update(site_test)
            self.callbacks.on_baseline_trained(done)
        local = evaluate_predictions(val, test, per_site_threshold=True)
        return BaselineResults(centralized=centralized, local=local)

    # --- resume --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What a resumed run needs besides the booster: round, time, callbacks."""
        return {
            "completed_round": self.completed_round,
            "elapsed_seconds": self.elapsed_seconds,
            "strategy": {},
            "callbacks": self.callbacks.state_dict(),
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Continue after the snapshot's round (the booster is given to the constructor)."""
        self.callbacks.load_state_dict(snapshot["callbacks"])
        self.completed_round = int(snapshot["completed_round"])
        self._elapsed_before = float(snapshot.get("elapsed_seconds", 0.0))

    @property
    def elapsed_seconds(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._started

    def _result(
        self, last: RoundResult | None, baselines: BaselineResults, stopped: bool
    ) -> RunResult:
        if last is None:  # resumed after the last round: only the baselines were left
            last = RoundResult(self.completed_round, self._evaluate(self.model))
        return finished_run(self.config, self.data, last, baselines, history=self.history,
                            rounds_completed=self.completed_round, stopped=stopped,
                            elapsed_seconds=self.elapsed_seconds)


def _rul_cap(config: RunConfig, data: FederatedData) -> float | None:
    """The cap of a RUL run's target (what its data were built with), else ``None``."""
    if data.num_classes != 1:
        return None
    return float(data.preprocessing.source_options.get("rul_cap", config.data.rul_cap))
