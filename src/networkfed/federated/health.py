"""Assemble a finished run's health check: trivial references and findings.

The one place that knows where the numbers come from (the last round's evaluation, the
engine's history, the baselines, the sites' label statistics, the settings); the rules
themselves (:mod:`networkfed.federated.findings`) stay pure functions of plain numbers. Both
engines build their result through :class:`~networkfed.federated.engine.InProcessEngine`, so
the in-process and the Flower runs get the same check.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from networkfed.data.label_stats import opposite_signs, site_label_statistics
from networkfed.data.types import FederatedData
from networkfed.federated.config import RunConfig
from networkfed.federated.evaluation import Evaluation
from networkfed.federated.findings import Finding, RunFacts, find_problems
from networkfed.federated.references import references_of, rul_references
from networkfed.federated.results import BaselineResults, RoundResult, RunResult

if TYPE_CHECKING:
    from networkfed.federated.callbacks import History

logger = logging.getLogger(__name__)

__all__ = ["finished_run", "health_check", "run_references"]


def finished_run(
    config: RunConfig,
    data: FederatedData,
    last: RoundResult,
    baselines: BaselineResults,
    *,
    history: History,
    rounds_completed: int,
    stopped: bool,
    elapsed_seconds: float,
    **extra: Any,
) -> RunResult:
    """The result of a finished run with its health check, for every engine (networks and
    trees); ``extra``: the engine's own fields (``monitor``, ``attack``, ``privacy``)."""
    references, findings = health_check(
        config, data, last.evaluation, best_round=history.best_round,
        rounds_completed=rounds_completed, history=history.rounds, local=baselines.local,
    )
    return RunResult(
        status="complete", rounds_completed=rounds_completed, best_round=history.best_round,
        last=last, history=list(history.rounds), baselines=baselines,
        monitor=extra.pop("monitor", {"status": "no_data"}), elapsed_seconds=elapsed_seconds,
        stopped_early=stopped, references=references, findings=findings, **extra,
    )


def run_references(
    config: RunConfig, data: FederatedData, evaluation: Evaluation
) -> dict[str, Any]:
    """The trivial references of the final evaluation's test labels: class counts, or for a
    RUL run (``num_classes == 1``) the constants of :func:`rul_references`."""
    if data.num_classes != 1:
        return references_of(evaluation.overall, evaluation.per_site)
    train = [site.train.y.numpy().astype(np.float64) for site in data.sites.values()]
    count = sum(y.size for y in train)
    mean = sum(float(y.sum()) for y in train) / count if count else float("nan")
    cap = float(data.preprocessing.source_options.get("rul_cap", config.data.rul_cap))
    targets = {site: p.y_true for site, p in evaluation.predictions.items()}
    return rul_references(targets, mean, cap)


def health_check(
    config: RunConfig,
    data: FederatedData,
    evaluation: Evaluation,
    *,
    best_round: int,
    rounds_completed: int,
    history: Sequence[Mapping[str, Any]],
    local: Evaluation | None = None,
) -> tuple[dict[str, Any], tuple[Finding, ...]]:
    """The references of the final evaluation's test labels and the run's findings."""
    references = run_references(config, data, evaluation)
    names = list(data.preprocessing.feature_names)
    stats = {site: site_label_statistics(sd, len(names)) for site, sd in data.sites.items()}
    facts = RunFacts(
        final=evaluation.overall,
        per_site=evaluation.per_site,
        references=references,
        best_round=best_round,
        rounds_completed=rounds_completed,
        history=history,
        local=local.per_site if local is not None else None,
        disagreements=opposite_signs(stats, names),
        settings={"model": str(config.model), "fedbn": config.fedbn, "fedper": config.fedper,
                  "normalization": config.data.normalization, "num_features": len(names),
                  "dataset": config.data.dataset, "split": config.data.split},
    )
    findings = tuple(find_problems(facts))
    for finding in findings:
        logger.debug("health finding %s: %s", finding.code, finding.message)
    return references, findings
