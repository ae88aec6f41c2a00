"""What a federated run produces: plain, read-only records keyed by round.

The loop creates them; callbacks, the CLI and the report only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from networkfed.federated.evaluation import Evaluation
from networkfed.federated.findings import Finding

__all__ = ["BaselineResults", "RoundResult", "RunResult"]


@dataclass(frozen=True)
class RoundResult:
    """One round (round 0 is the initial global model, before any training).

    Attributes
    ----------
    sampled, dropped, trained
        Sites chosen this round, those that dropped out, and those whose update was
        aggregated (sampled minus dropped minus rejected).
    rejected
        Site id -> the reasons its update was refused.
    train_metrics
        Site id -> local training metrics (``train_loss``, ``learning_rate``).
    """

    round_num: int
    evaluation: Evaluation
    sampled: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    trained: tuple[str, ...] = ()
    rejected: dict[str, list[str]] = field(default_factory=dict)
    train_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    learning_rate: float = float("nan")
    seconds: float = 0.0
    privacy: dict[str, Any] = field(default_factory=dict)
    """Differential privacy spent up to this round (``epsilon`` at ``delta``, noise, clip;
    empty without DP: :meth:`~networkfed.federated.strategies.Strategy.privacy_spent`)."""

    @property
    def overall(self) -> dict[str, float]:
        """Overall test metrics of the global model after this round."""
        return self.evaluation.overall


@dataclass(frozen=True)
class BaselineResults:
    """The same training without federation: pooled data, and every site alone."""

    centralized: Evaluation | None = None
    local: Evaluation | None = None
    """Each site's own model on its own test split (``local.per_site``), pooled overall."""


@dataclass(frozen=True)
class RunResult:
    """A finished (or early-stopped) run.

    ``history`` holds the overall test and validation metrics of every round, including
    rounds run before a resume; ``last`` is the final round's full result.
    """

    status: str
    rounds_completed: int
    best_round: int
    last: RoundResult
    history: list[dict[str, Any]]
    baselines: BaselineResults
    monitor: dict[str, Any]
    elapsed_seconds: float
    stopped_early: bool = False
    run_dir: Any = None
    """The run folder, when the run wrote one (set by :func:`networkfed.api.run_federated`)."""
    references: dict[str, Any] = field(default_factory=dict)
    """The trivial references on the same test labels, ``overall`` and ``per_site``
    (:func:`networkfed.federated.references.references_of`)."""
    findings: tuple[Finding, ...] = ()
    """Federation health: what makes the final model useless or worse than it looks."""
    attack: dict[str, Any] = field(default_factory=dict)
    """The simulated attack: name, attacker sites, options (empty: no attack); the metrics
    are then those of the honest sites only."""
    privacy: dict[str, Any] = field(default_factory=dict)
    """Differential privacy: settings and the ε spent by the whole run (empty: no DP)."""

    @property
    def final(self) -> dict[str, float]:
        """Overall test metrics of the final global model."""
        return self.last.evaluation.overall

    @property
    def per_site(self) -> dict[str, dict[str, float]]:
        return self.last.evaluation.per_site

    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` document (NaN left as NaN; writers turn it into null)."""
        summary: dict[str, Any] = {
            "status": self.status,
            "rounds_completed": self.rounds_completed,
            "best_round": self.best_round,
            "stopped_early": self.stopped_early,
            "final": self.final,
            "per_site": self.per_site,
            "references": self.references,
            "findings": [finding.to_dict() for finding in self.findings],
        }
        baselines = {}
        if self.baselines.centralized is not None:
            baselines["centralized"] = self.baselines.centralized.overall
        if self.baselines.local is not None:
            baselines["local"] = self.baselines.local.per_site
            baselines["local_overall"] = self.baselines.local.overall
        if baselines:
            summary["baselines"] = baselines
        if self.attack:
            summary["attack"] = self.attack
        if self.privacy:
            summary["privacy"] = self.privacy
        summary["monitor"] = self.monitor
        summary["elapsed_seconds"] = round(self.elapsed_seconds, 3)
        return summary
