"""The in-process engine: federated rounds simulated on this machine, fast and reproducible.

:meth:`InProcessEngine.run` is the round loop, one labelled step per line of the federated
recipe; sampling, local training, validation, aggregation and evaluation are the functions
it calls, and everything else (files, monitor, progress, early stopping) is a callback.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import Tensor

from networkfed.core.errors import TrainingError
from networkfed.data.types import FederatedData
from networkfed.federated.attacks import Adversary
from networkfed.federated.callbacks import Callback, CallbackList, History
from networkfed.federated.config import RunConfig
from networkfed.federated.evaluation import Evaluation, SplitPredictions, evaluate_predictions
from networkfed.federated.execution import Chain, SiteRunner, Task
from networkfed.federated.health import finished_run
from networkfed.federated.local_training import (
    FitInstructions,
    ModelSpec,
    class_weights_from_counts,
    label_counts,
    round_learning_rate,
)
from networkfed.federated.results import BaselineResults, RoundResult, RunResult
from networkfed.federated.sampling import sample_sites, simulate_dropouts
from networkfed.federated.site_layers import SiteLayers, batchnorm_keys, local_layer_keys
from networkfed.federated.strategies import Strategy
from networkfed.federated.types import SiteUpdate
from networkfed.federated.validation import validate_update
from networkfed.models import ModelWrapper

logger = logging.getLogger(__name__)

__all__ = ["InProcessEngine"]

SitePredictions = tuple[dict[str, SplitPredictions], dict[str, SplitPredictions]]
"""Validation and test predictions, by site."""


class InProcessEngine:
    """Runs a federation's rounds with site work on a :class:`SiteRunner`.

    Parameters
    ----------
    config, data
        The run settings and every site's data.
    model
        The global model, holding the initial weights (or, when resuming, those of the last
        saved round: see :meth:`restore`).
    spec, training
        How the model is built and trained (the runner's sites use the same).
    strategy
        The aggregation rule.
    runner
        Where site work runs (this process or worker processes).
    callbacks
        Called in order after the engine's own :class:`History`.
    """

    def __init__(
        self,
        config: RunConfig,
        data: FederatedData,
        model: ModelWrapper,
        spec: ModelSpec,
        training: Mapping[str, Any],
        strategy: Strategy,
        runner: SiteRunner,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.config, self.data, self.model, self.spec = config, data, model, spec
        self.training, self.strategy, self.runner = dict(training), strategy, runner
        self.history = History()
        self.callbacks = CallbackList([self.history, *callbacks])
        self.completed_round = -1
        """Last round whose global model is evaluated and reported (-1: none, 0: initial)."""
        self._round_zero: SitePredictions | None = None
        """The initial model's predictions while they wait to be scored (:meth:`run`)."""
        self.notes: dict[str, Any] = {}
        """What the callbacks reported about the last round (e.g. the monitor's findings)."""
        self._elapsed_before, self._started = 0.0, time.perf_counter()
        counts = [label_counts(site.train.y, data.num_classes) for site in data.sites.values()]
        self.class_weights = class_weights_from_counts(counts, config.class_weighting)
        self.site_layers = self._site_layers(config, model)
        """Each site's own layers under FedBN / FedPer (``None``: every layer is shared)."""
        self.adversary = Adversary.for_run(config.attack, config.attackers,
                                           config.attack_options, data.site_ids, config.seed)
        """The simulated attack (``None``: every site is honest)."""
        hostile = self.adversary.attackers if self.adversary is not None else ()
        self.honest_sites = [site for site in data.site_ids if site not in hostile]
        """The sites every model is scored on: an attacker's own metrics say nothing of the
        damage it does to the others."""

    def run(self) -> RunResult:
        """Run the remaining rounds, then the baselines; return the result."""
        config, self._started = self.config, time.perf_counter()
        # 1. Begin: callbacks open files and displays; the initial model is round 0. Its
        #    predictions are made now and scored while round 1 trains (the first scoring
        #    imports scikit-learn, ~0.7 s the sites need not wait for).
        self.callbacks.on_train_begin(self)
        if self.completed_round < 0:
            self._round_zero = self._predict(self.model.get_parameters(), personal=True)
        first_round = 1 if self._round_zero is not None else self.completed_round + 1
        last, stopped_early = None, False
        for round_num in range(first_round, config.rounds + 1):
            round_started = time.perf_counter()
            # 2. Sampling: choose sites, then let some drop out (both seeded per round).
            sampled = sample_sites(
                self.data.site_ids, config.fraction_fit, config.min_fit_clients,
                config.seed, round_num,
            )
            online, dropped = simulate_dropouts(
                sampled, config.site_dropout_rate, config.seed, round_num
            )
            if len(online) < config.min_fit_clients:
                self._report_round_zero()  # the run stops here; round 0 is on record first
            self._require_enough(round_num, online, f"{len(dropped)} of {len(sampled)} dropped out")
            # 3. Local training: every online site starts from the same global state; the
            #    previous round's report and this round's start happen while the sites train.
            global_state = self.model.get_parameters()
            updates = self._train_sites(
                round_num, global_state, online,
                meanwhile=functools.partial(self._begin_round, round_num, online),
            )
            if self.adversary is not None:  # hostile sites change what they send
                updates = self.adversary.apply(round_num, global_state, updates)
            self.strategy.sites_trained(round_num, [u.site_id for u in updates])
            # 4. Validation: bad updates are refused; too few good ones stop the run.
            valid, rejected = self._validate(round_num, global_state, updates)
            self._keep_site_layers(valid)
            # 5. Aggregation: the strategy turns the valid updates into the next global model.
            self.model.set_parameters(self.strategy.aggregate_fit(round_num, global_state, valid))
            # 6. Evaluation: threshold on validation data, metrics on every site's test split.
            evaluation = self._evaluate(self.model.get_parameters(), personal=True)
            # 7. Report: callbacks log, monitor, checkpoint, display, maybe stop early.
            last = RoundResult(
                round_num=round_num,
                evaluation=evaluation,
                sampled=tuple(sampled),
                dropped=tuple(dropped),
                trained=tuple(u.site_id for u in valid),
                rejected=rejected,
                train_metrics={u.site_id: dict(u.metrics) for u in updates},
                learning_rate=round_learning_rate(self.training, round_num),
                seconds=time.perf_counter() - round_started,
                privacy=self.strategy.privacy_spent(),
            )
            self.completed_round = round_num
            if self._report(last):
                stopped_early = round_num < config.rounds
                break
        if self._round_zero is not None:  # no round was left to train
            last = self._report_round_zero()
        # 8. Baselines: the same training on pooled data and on every site alone.
        baselines = self._baselines() if config.baselines else BaselineResults()
        # 9. End: the result, handed to every callback (summary, predictions, report).
        result = self._result(last, baselines, stopped_early)
        self.callbacks.on_train_end(result)
        return result

    @staticmethod
    def _site_layers(config: RunConfig, model: ModelWrapper) -> SiteLayers | None:
        if not (config.fedbn or config.fedper):
            return None
        if config.fedbn and not batchnorm_keys(model.model):
            logger.warning("fedbn: the %s model has no BatchNorm layer, so no layer stays at "
                           "the sites for it", config.model)
        return SiteLayers(local_layer_keys(model.model, batchnorm=config.fedbn,
                                           head=config.fedper))

    # --- state for resume ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What a resumed run needs besides the global model: round, strategy, callbacks."""
        return {
            "completed_round": self.completed_round,
            "elapsed_seconds": self.elapsed_seconds,
            "strategy": self.strategy.state_dict(),
            "callbacks": self.callbacks.state_dict(),
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Continue after the snapshot's round (the caller sets the global model itself)."""
        self.strategy.load_state_dict(snapshot["strategy"])
        self.callbacks.load_state_dict(snapshot["callbacks"])
        self.completed_round = int(snapshot["completed_round"])
        self._elapsed_before = float(snapshot.get("elapsed_seconds", 0.0))
        saved_layers = snapshot.get("site_layers")
        if self.site_layers is not None and saved_layers is not None:
            self.site_layers.states = dict(saved_layers.states)

    @property
    def elapsed_seconds(self) -> float:
        """Wall time of this run so far, including the time before a resume."""
        return self._elapsed_before + time.perf_counter() - self._started

    # --- steps -------------------------------------------------------------------------------
    def _report_round_zero(self) -> RoundResult | None:
        """Score and report the initial model's predictions, once (None: nothing pending)."""
        if self._round_zero is None:
            return None
        result = RoundResult(0, evaluate_predictions(*self._round_zero))
        self._round_zero, self.completed_round = None, 0
        self._report(result)
        return result

    def _begin_round(self, round_num: int, online: Sequence[str]) -> None:
        """Everything due before ``round_num``'s results: round 0's report, then the round's
        start for the callbacks (which run in this order, as if nothing overlapped)."""
        self._report_round_zero()
        self.callbacks.on_round_begin(round_num, online)

    def _report(self, result: RoundResult) -> bool:
        """Hand a round to the callbacks; keep their notes; return whether one asks to stop."""
        stop, self.notes = self.callbacks.after_round(result)
        return stop

    def _instructions(self, round_num: int) -> FitInstructions:
        fit_config = self.strategy.configure_fit(round_num)
        return FitInstructions(
            round_num=round_num,
            local_epochs=self.config.local_epochs,
            class_weights=self.class_weights,
            seed=self.config.seed,
            proximal_mu=float(fit_config.get("proximal_mu", 0.0)),
            dp_clip=float(fit_config.get("dp_clip", 0.0)),
            dp_noise_sd=float(fit_config.get("dp_noise_sd", 0.0)),
            dp_sample_clip=float(fit_config.get("dp_sample_clip", 0.0)),
            dp_sample_noise=float(fit_config.get("dp_sample_noise", 0.0)),
        )

    def _train_sites(
        self, round_num: int, global_state: dict[str, Tensor], site_ids: Sequence[str],
        meanwhile: Callable[[], None] | None = None,
    ) -> list[SiteUpdate]:
        instructions = self._instructions(round_num)
        tasks = [
            Task("train", (self._site_state(global_state, site), site,
                           self._site_instructions(instructions, site)), self._cost(site))
            for site in site_ids
        ]
        return self.runner.run(
            tasks, lambda u: self.callbacks.on_site_trained(round_num, u), meanwhile=meanwhile
        )

    def _site_instructions(self, instructions: FitInstructions, site_id: str) -> FitInstructions:
        """A label-flipping attacker is told to flip its labels; everyone else is not."""
        if self.adversary is not None and self.adversary.flips_labels(site_id):
            return dataclasses.replace(instructions, flip_labels=True)
        return instructions

    def _site_state(self, state: Mapping[str, Tensor], site_id: str) -> Mapping[str, Tensor]:
        """What ``site_id`` starts from: the global state, with its own layers under FedBN /
        FedPer."""
        return state if self.site_layers is None else self.site_layers.personalize(state, site_id)

    def _keep_site_layers(self, updates: Sequence[SiteUpdate]) -> None:
        """Under FedBN / FedPer, the accepted updates' own layers stay with their sites."""
        if self.site_layers is not None:
            for update in updates:
                self.site_layers.keep(update.site_id, update.state)

    def _validate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: Sequence[SiteUpdate]
    ) -> tuple[list[SiteUpdate], dict[str, list[str]]]:
        valid, rejected = [], {}
        for update in updates:
            problems = validate_update(global_state, update)
            if problems:
                rejected[update.site_id] = problems
                logger.warning(
                    "round %d: rejected the update of site %r: %s",
                    round_num, update.site_id, "; ".join(problems),
                )
            else:
                valid.append(update)
        self._require_enough(round_num, valid, f"{len(rejected)} rejected")
        return valid, rejected

    def _require_enough(self, round_num: int, remaining: Sequence[Any], why: str) -> None:
        if len(remaining) < self.config.min_fit_clients:
            raise TrainingError(
                f"round {round_num}: only {len(remaining)} site(s) left ({why}), fewer than "
                f"min_fit_clients={self.config.min_fit_clients}; the global model stays at "
                f"round {round_num - 1} (lower --min-fit-clients to continue with fewer sites)"
            )

    def _evaluate(
        self, state: Mapping[str, Tensor], *, personal: bool = False,
        per_site_threshold: bool = False,
    ) -> Evaluation:
        """Every site's predictions, then metrics (see :meth:`_predict`)."""
        val, test = self._predict(state, personal=personal)
        return evaluate_predictions(val, test, per_site_threshold=per_site_threshold)

    def _predict(self, state: Mapping[str, Tensor], *, personal: bool = False) -> SitePredictions:
        """Every site's validation and test predictions; ``personal``: each site with its own
        layers (FedBN / FedPer; the federated model), otherwise ``state`` as it is (a
        baseline)."""
        sites = self.honest_sites
        tasks = [
            Task("predict", (self._site_state(state, s) if personal else state, s,
                             ("val", "test")), self._cost(s))
            for s in sites
        ]
        outputs = self.runner.run(tasks)
        val = {s: out["val"] for s, out in zip(sites, outputs, strict=True)}
        test = {s: out["test"] for s, out in zip(sites, outputs, strict=True)}
        return val, test

    def _baselines(self) -> BaselineResults:
        """Centralized (all training data pooled) and local-only (each site alone) models."""
        initial = self.spec.build(seed=self.config.seed).get_parameters()
        chains = [self._chain("centralized", self.data.site_ids)]
        chains += [self._chain(f"local/{site}", [site]) for site in self.data.site_ids]
        self.callbacks.on_baselines_begin([chain.name for chain in chains])
        tasks = [Task("chain", (initial, c), self._cost(*c.site_ids) * c.rounds) for c in chains]
        done = iter(range(1, len(chains) + 1))
        states = dict(zip(
            [c.name for c in chains],
            self.runner.run(tasks, lambda _: self.callbacks.on_baseline_trained(next(done))),
            strict=True,
        ))
        centralized = self._evaluate(states["centralized"])
        local_predictions = {
            site: self._predict_site(states[f"local/{site}"], site) for site in self.honest_sites
        }
        local = evaluate_predictions(
            {s: p["val"] for s, p in local_predictions.items()},
            {s: p["test"] for s, p in local_predictions.items()},
            per_site_threshold=True,
        )
        return BaselineResults(centralized=centralized, local=local)

    def _predict_site(self, state: Mapping[str, Tensor], site: str) -> dict[str, SplitPredictions]:
        return self.runner.run([Task("predict", (state, site, ("val", "test")), 1.0)])[0]

    def _chain(self, name: str, site_ids: Sequence[str]) -> Chain:
        counts = [label_counts(self.data.sites[s].train.y, self.data.num_classes) for s in site_ids]
        return Chain(
            name, tuple(site_ids), self.config.rounds, self.config.local_epochs,
            class_weights_from_counts(counts, self.config.class_weighting), self.config.seed,
        )

    def _cost(self, *site_ids: str) -> float:
        """Relative size of a task (training windows), to schedule large tasks first."""
        return float(sum(len(self.data.sites[s].train) for s in site_ids))

    def _result(
        self, last: RoundResult | None, baselines: BaselineResults, stopped: bool
    ) -> RunResult:
        if last is None:  # resumed after the last round: only the baselines were left
            last = RoundResult(self.completed_round,
                               self._evaluate(self.model.get_parameters(), personal=True))
        return finished_run(
            self.config, self.data, last, baselines, history=self.history,
            rounds_completed=self.completed_round, stopped=stopped,
            elapsed_seconds=self.elapsed_seconds,
            monitor=dict(self.notes.get("monitor", {"status": "no_data"})),
            attack=self.adversary.describe() if self.adversary is not None else {},
            privacy=self.strategy.privacy_spent(),
        )
