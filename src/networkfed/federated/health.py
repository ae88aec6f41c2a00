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
from typing import Any

from networkfed.data.label_stats import opposite_signs, site_label_statistics
from networkfed.data.types import FederatedData
from networkfed.federated.config import RunConfig
from networkfed.federated.evaluation import Evaluation
from networkfed.federated.findings import Finding, RunFacts, find_problems
from networkfed.federated.references import references_of

logger = logging.getLogger(__name__)

__all__ = ["health_check"]


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
    references = references_of(evaluation.overall, evaluation.per_site)
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
