"""Where site work runs: one ``SiteExecutor`` per process, driven by a runner.

Three kinds of task reach a site: ``train`` (one round of local training from a global
state), ``predict`` (the global model's failure probabilities on a site's validation and test
splits) and ``chain`` (a baseline: rounds of training on one site alone or on pooled data).
The :class:`SiteExecutor` runs them with the site data and the trainer it keeps resident; a
:class:`SequentialRunner` calls it in this process, a
:class:`~networkfed.federated.workers.ProcessRunner` in worker processes — same code, same
numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from networkfed.data.types import SiteData, SplitTensors
from networkfed.federated.evaluation import SplitPredictions
from networkfed.federated.local_training import FitInstructions, ModelSpec, SiteTrainer
from networkfed.federated.types import SiteUpdate

__all__ = ["Chain", "SequentialRunner", "SiteExecutor", "SiteRunner", "Task", "pooled_split"]


@dataclass(frozen=True)
class Chain:
    """A baseline's training: ``rounds`` rounds on the pooled training data of ``site_ids``.

    Each round is the same local training a federated round does, started from the previous
    round's result, so a chain is FedAvg with a single participant.
    """

    name: str
    site_ids: tuple[str, ...]
    rounds: int
    local_epochs: int
    class_weights: tuple[float, ...]
    seed: int


@dataclass(frozen=True)
class Task:
    """One unit of site work; ``cost`` (examples processed) orders the scheduling."""

    kind: str
    payload: tuple[Any, ...]
    cost: float


class SiteRunner(Protocol):
    """Runs tasks and returns their results in task order."""

    def run(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[Any], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list:
        """``on_result`` is called with each result as it arrives; ``meanwhile`` once, after
        the tasks are handed out and before any result is taken in (where the tasks run
        elsewhere, it runs while they do)."""
        ...

    def close(self) -> None:
        ...


class SiteExecutor:
    """Holds the sites' data and a trainer; executes tasks."""

    def __init__(
        self, spec: ModelSpec, training: Mapping[str, Any], sites: Mapping[str, SiteData]
    ) -> None:
        self.sites = dict(sites)
        self.trainer = SiteTrainer(spec, training)

    def execute(self, task: Task) -> Any:
        handler = {"train": self._train, "predict": self._predict, "chain": self._chain}
        return handler[task.kind](*task.payload)

    def _train(
        self, state: Mapping[str, Tensor], site_id: str, instructions: FitInstructions
    ) -> SiteUpdate:
        return self.trainer.fit(state, self.sites[site_id].train, site_id, instructions)

    def _predict(
        self, state: Mapping[str, Tensor], site_id: str, splits: Sequence[str]
    ) -> dict[str, SplitPredictions]:
        self.trainer.load(state)  # tasks of one packet share the state: loaded once
        site = self.sites[site_id]
        return {
            split: SplitPredictions(
                getattr(site, split).y.numpy().copy(),
                self.trainer.spec.predict(self.trainer.model, getattr(site, split).x),
            )
            for split in splits
        }

    def _chain(self, state: Mapping[str, Tensor], chain: Chain) -> dict[str, Tensor]:
        train = pooled_split([self.sites[s].train for s in chain.site_ids])
        for round_num in range(1, chain.rounds + 1):
            instructions = FitInstructions(
                round_num, chain.local_epochs, chain.class_weights, chain.seed
            )
            state = self.trainer.fit(state, train, chain.name, instructions).state
        return dict(state)


class SequentialRunner:
    """Runs every task in this process, one after another."""

    def __init__(self, executor: SiteExecutor) -> None:
        self.executor = executor

    def run(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[Any], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list:
        if meanwhile is not None:
            meanwhile()
        results = []
        for task in tasks:
            results.append(self.executor.execute(task))
            if on_result is not None:
                on_result(results[-1])
        return results

    def close(self) -> None:
        """Nothing to release."""


def pooled_split(splits: Sequence[SplitTensors]) -> SplitTensors:
    """Several sites' splits as one (the centralized baseline's data)."""
    if len(splits) == 1:
        return splits[0]
    return SplitTensors(
        torch.cat([s.x for s in splits]),
        torch.cat([s.y for s in splits]),
        np.concatenate([np.asarray(s.machine_ids) for s in splits]),
    )
