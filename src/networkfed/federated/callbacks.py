"""Callbacks: what happens around the round loop without the loop knowing about it.

As in pfl-research's ``pfl/callback/``, checkpointing, metrics files, the training monitor,
progress display and early stopping are callbacks, so the loop itself stays a short list of
federated-learning steps and knows nothing of files or terminals. Every callback can save and
restore its state (:meth:`Callback.state_dict`), so a resumed run continues exactly where the
interrupted one stopped. Callbacks that touch files live in :mod:`networkfed.monitoring`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from networkfed.federated.regression import selection_score
from networkfed.federated.results import RoundResult, RunResult
from networkfed.federated.types import SiteUpdate

if TYPE_CHECKING:
    from pathlib import Path

    from networkfed.data.types import FederatedData
    from networkfed.federated.config import RunConfig
    from networkfed.federated.site_layers import SiteLayers
    from networkfed.federated.strategies import Strategy
    from networkfed.models import ModelWrapper

__all__ = [
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "EngineView",
    "History",
    "RoundFeedback",
    "best_round",
]

RoundFeedback = tuple[bool, dict[str, Any]]
"""What :meth:`Callback.after_round` may return: (stop training?, notes for later callbacks)."""


class EngineView(Protocol):
    """What a callback may read from the engine that runs it."""

    config: RunConfig
    data: FederatedData
    model: ModelWrapper
    strategy: Strategy
    completed_round: int
    site_layers: SiteLayers | None

    def snapshot(self) -> dict[str, Any]:
        """Everything a resumed run needs besides the global model (see the engine)."""
        ...


class Callback:
    """Base class: every hook does nothing, so a callback overrides only what it needs."""

    def on_train_begin(self, engine: EngineView) -> None:
        """Before the first round this process runs (after a resume: the next round)."""

    def on_round_begin(self, round_num: int, site_ids: Sequence[str]) -> None:
        """Sites are chosen and about to train."""

    def on_site_trained(self, round_num: int, update: SiteUpdate) -> None:
        """One site finished local training (in completion order)."""

    def after_round(
        self, result: RoundResult, notes: Mapping[str, Any]
    ) -> RoundFeedback | None:
        """The global model of ``result.round_num`` is aggregated and evaluated.

        ``notes`` holds what earlier callbacks reported this round (e.g. monitor findings).
        Return ``(True, ...)`` to stop training after this round.
        """
        return None

    def on_baselines_begin(self, names: Sequence[str]) -> None:
        """The federated rounds are over; baseline models ``names`` start training."""

    def on_baseline_trained(self, done: int) -> None:
        """``done`` of the baseline models are trained (in completion order)."""

    def on_train_end(self, result: RunResult) -> None:
        """Training and baselines are done; ``result`` is final."""

    def on_run_end(self, status: str, run_dir: Path | None) -> None:
        """The run is over and its folder (report, plots) written: ``status`` is
        ``complete``, ``failed`` or ``interrupted`` (as in ``manifest.json``)."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state to save with each round (empty: nothing to restore)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class CallbackList:
    """Calls callbacks in order; collects stop requests and notes of ``after_round``."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_train_begin(self, engine: EngineView) -> None:
        for callback in self.callbacks:
            callback.on_train_begin(engine)

    def on_round_begin(self, round_num: int, site_ids: Sequence[str]) -> None:
        for callback in self.callbacks:
            callback.on_round_begin(round_num, site_ids)

    def on_site_trained(self, round_num: int, update: SiteUpdate) -> None:
        for callback in self.callbacks:
            callback.on_site_trained(round_num, update)

    def after_round(self, result: RoundResult) -> RoundFeedback:
        """Run every callback (even after one asked to stop); return (any stop?, all notes)."""
        stop, notes = False, {}
        for callback in self.callbacks:
            feedback = callback.after_round(result, notes)
            if feedback is not None:
                stop = stop or feedback[0]
                notes.update(feedback[1])
        return stop, notes

    def on_baselines_begin(self, names: Sequence[str]) -> None:
        for callback in self.callbacks:
            callback.on_baselines_begin(names)

    def on_baseline_trained(self, done: int) -> None:
        for callback in self.callbacks:
            callback.on_baseline_trained(done)

    def on_train_end(self, result: RunResult) -> None:
        for callback in self.callbacks:
            callback.on_train_end(result)

    def on_run_end(self, status: str, run_dir: Path | None) -> None:
        for callback in self.callbacks:
            callback.on_run_end(status, run_dir)

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Non-empty states keyed by callback class (``Name#2`` for a second of a kind)."""
        states = {key: callback.state_dict() for key, callback in self._keyed()}
        return {key: state for key, state in states.items() if state}

    def load_state_dict(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Restore the callbacks that saved a state; others (e.g. a display added on resume)
        start fresh."""
        for key, callback in self._keyed():
            if key in states:
                callback.load_state_dict(states[key])

    def _keyed(self) -> list[tuple[str, Callback]]:
        seen: dict[str, int] = {}
        keyed = []
        for callback in self.callbacks:
            name = type(callback).__name__
            seen[name] = seen.get(name, 0) + 1
            keyed.append((name if seen[name] == 1 else f"{name}#{seen[name]}", callback))
        return keyed


class History(Callback):
    """Per-round overall metrics, the best round and the training time, across resumes.

    The best round is the one with the highest validation PR-AUC (the threshold-free measure
    of how well rare failures are ranked), chosen on validation data so test data never picks
    a model; ties go to the earlier round.
    """

    def __init__(self) -> None:
        self.rounds: list[dict[str, Any]] = []
        self.seconds = 0.0

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        self.seconds += result.seconds
        self.rounds.append(
            {
                "round": result.round_num,
                "test": dict(result.evaluation.overall),
                "val": dict(result.evaluation.validation),
                "trained": list(result.trained),
                "rejected": {site: list(r) for site, r in result.rejected.items()},
                "seconds": result.seconds,
            }
        )

    @property
    def best_round(self) -> int:
        return best_round({r["round"]: selection_score(r["val"]) for r in self.rounds})

    def state_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "seconds": self.seconds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rounds = [dict(r) for r in state.get("rounds", [])]
        self.seconds = float(state.get("seconds", 0.0))


class EarlyStopping(Callback):
    """Stop when an overall validation metric has not improved for ``patience`` rounds.

    Parameters
    ----------
    metric
        A key of the overall validation metrics, e.g. ``"loss"`` or ``"pr_auc"``.
    mode
        ``"min"`` (loss) or ``"max"`` (scores).
    patience
        Rounds without an improvement larger than ``min_delta`` before stopping.
    """

    def __init__(
        self, metric: str = "loss", mode: str = "min", patience: int = 3, min_delta: float = 0.0
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.metric, self.mode, self.patience, self.min_delta = metric, mode, patience, min_delta
        self.best = math.inf if mode == "min" else -math.inf
        self.waited = 0

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> RoundFeedback:
        value = result.evaluation.validation.get(self.metric)
        value = float("nan") if value is None else float(value)
        sign = 1.0 if self.mode == "min" else -1.0
        if math.isfinite(value) and sign * (self.best - value) > self.min_delta:
            self.best, self.waited = value, 0
        elif result.round_num > 0:
            self.waited += 1
        stop = self.waited >= self.patience
        return stop, ({"early_stopping": f"{self.metric} did not improve"} if stop else {})

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "waited": self.waited}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.waited = float(state["best"]), int(state["waited"])


def best_round(validation_pr_auc: Mapping[int, Any]) -> int:
    """The round whose global model has the highest validation PR-AUC, the earliest on a tie.

    Undefined values (None, NaN) rank last; 0 (the initial model) when no round is given.
    Chosen on validation data so the chosen round's test metrics stay an honest estimate.
    """
    scored = [(_score(value), -round_num) for round_num, value in validation_pr_auc.items()]
    return -max(scored)[1] if scored else 0


def _score(value: Any) -> float:
    number = float("nan") if value is None else float(value)
    return number if math.isfinite(number) else -math.inf
