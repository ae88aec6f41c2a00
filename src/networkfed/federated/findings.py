"""Federation health: the findings that keep a useless model from being presented as a result.

Pure functions over a finished run's numbers (:class:`RunFacts`). Each rule looks for one way
a federated model can be worthless or worse than it looks — no better than the trivial
references (:mod:`networkfed.federated.references`), never better than its untrained start,
an alarm threshold at the edge, a validation loss that rose, a site that did better alone —
and returns a :class:`Finding` that says what was seen, the likely cause where the run can
tell it (e.g. sites disagree about a feature, from per-site sufficient statistics:
:mod:`networkfed.data.label_stats`) and the remedies to try.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from networkfed.data.label_stats import Disagreement

__all__ = ["Finding", "RunFacts", "find_problems"]

CHANCE_ROC_AUC, PR_AUC_FACTOR, F1_MARGIN = 0.55, 1.2, 0.02
"""No better than chance: ROC-AUC <= 0.55, or PR-AUC <= 1.2 x failure rate, or F1 <= the
always-alarm F1 + 0.02."""
THRESHOLD_EDGES = (0.01, 0.99)
LOSS_RISE = 1.10
"""Validation loss "rose": the last round's is above 1.1 x the first trained round's."""
WORSE_THAN_ALONE = 0.02
FEW_FAILURES = 20
"""Fewer test failures than this (overall, or at a site a finding names): metrics are noisy."""


@dataclass(frozen=True)
class Finding:
    """One problem of a run, in words a reliability engineer can act on."""

    code: str
    severity: str
    """``critical`` (the model should not be used as it is) or ``warning``."""
    message: str
    causes: tuple[str, ...] = ()
    remedies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "causes": list(self.causes), "remedies": list(self.remedies)}


@dataclass(frozen=True)
class RunFacts:
    """What the rules read: test metrics of the final model overall and per site, their
    trivial references, every round's overall validation metrics, the baselines and the
    run's settings."""

    final: Mapping[str, Any]
    per_site: Mapping[str, Mapping[str, Any]]
    references: Mapping[str, Any]
    best_round: int
    rounds_completed: int
    history: Sequence[Mapping[str, Any]] = ()
    local: Mapping[str, Mapping[str, Any]] | None = None
    disagreements: Sequence[Disagreement] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    """``model``, ``fedbn``, ``fedper``, ``normalization``, ``num_features``, ``dataset``,
    ``split``."""


def find_problems(facts: RunFacts) -> list[Finding]:
    """Every finding of the run, the critical ones first."""
    found = [
        *_no_better_than_chance(facts),
        *_best_round_zero(facts),
        *_degenerate_threshold(facts),
        *_validation_loss_rose(facts),
        *_worse_than_alone(facts),
    ]
    return sorted(found, key=lambda f: f.severity != "critical")


def chance_reasons(metrics: Mapping[str, Any], reference: Mapping[str, Any]) -> list[str]:
    """Why ``metrics`` are no better than chance against ``reference`` (empty: they are);
    a RUL model (``rmse`` in ``metrics``) against predicting the training mean."""
    if "rmse" in metrics:
        rmse, mean_rmse = _num(metrics.get("rmse")), _num(reference.get("mean_rmse"))
        if rmse >= mean_rmse:
            return [f"RMSE {rmse:.2f} >= {mean_rmse:.2f} of predicting the training mean "
                    f"{_num(reference.get('train_mean')):.1f} cycles"]
        return []
    roc, pr, f1 = (_num(metrics.get(k)) for k in ("roc_auc", "pr_auc", "f1"))
    rate, always = _num(reference.get("failure_rate")), _num(reference.get("f1"))
    reasons = []
    if roc <= CHANCE_ROC_AUC:
        reasons.append(f"ROC-AUC {roc:.3f} <= {CHANCE_ROC_AUC}")
    if rate > 0 and pr <= PR_AUC_FACTOR * rate:
        reasons.append(f"PR-AUC {pr:.3f} <= {PR_AUC_FACTOR} x failure rate {rate:.3f}")
    if always > 0 and f1 <= always + F1_MARGIN:
        reasons.append(f"F1 {f1:.3f} <= always-alarm F1 {always:.3f} + {F1_MARGIN}")
    return reasons


def _no_better_than_chance(facts: RunFacts) -> list[Finding]:
    refs = facts.references
    places = {"overall": chance_reasons(facts.final, refs.get("overall", {}))}
    for site, metrics in facts.per_site.items():
        places[site] = chance_reasons(metrics, refs.get("per_site", {}).get(site, {}))
    best = _best_round_test(facts)
    if best is not None:  # the round `history` recommends restoring, overall
        places[f"best round {facts.best_round}"] = chance_reasons(best, refs.get("overall", {}))
    bad = {place: reasons for place, reasons in places.items() if reasons}
    if not bad:
        return []
    where = "; ".join(f"{place}: {', '.join(reasons)}" for place, reasons in bad.items())
    final = [place for place in bad if not place.startswith("best round")]
    model = "final model" if final else "best round's model"
    scope = "overall" if "overall" in bad or not final else "at " + ", ".join(final)
    trivial = ("predicting the same remaining life for every engine" if "rmse" in facts.final
               else "raising an alarm on every window, or a random score,")
    message = (f"The {model} is no better than chance {scope} ({where}): {trivial} does as "
               "well. Do not use it as it is.")
    return [Finding("no_better_than_chance", "critical", message,
                    _causes(facts, [p for p in final if p != "overall"]), _remedies(facts))]


def _best_round_test(facts: RunFacts) -> Mapping[str, Any] | None:
    """Overall test metrics of the best round when it is not the final one (and trained)."""
    if facts.best_round in (0, facts.rounds_completed):
        return None
    found = [r.get("test") for r in facts.history if int(r["round"]) == facts.best_round]
    return found[-1] if found and isinstance(found[-1], Mapping) else None


def _best_round_zero(facts: RunFacts) -> list[Finding]:
    if facts.best_round != 0 or facts.rounds_completed < 1:
        return []
    metric = "RMSE" if "rmse" in facts.final else "PR-AUC"
    message = ("The best round is round 0, the untrained initial model: no round of training "
               f"improved the validation {metric}.")
    return [Finding("best_round_is_zero", "critical", message, _causes(facts),
                    _remedies(facts))]


def _degenerate_threshold(facts: RunFacts) -> list[Finding]:
    threshold = _num(facts.final.get("threshold"))
    low, high = THRESHOLD_EDGES
    if not (threshold <= low or threshold >= high):
        return []
    alarms = "almost every window" if threshold <= low else "almost no window"
    message = (f"The alarm threshold {threshold:.4f} sits at the edge (<= {low} or >= {high}): "
               f"the model's probabilities barely separate failures, so it alarms on {alarms} "
               "with a small change in its output.")
    return [Finding("degenerate_threshold", "warning", message, _causes(facts),
                    ("--class-weighting sqrt (or none) for less extreme probabilities",
                     *_remedies(facts)))]


def _validation_loss_rose(facts: RunFacts) -> list[Finding]:
    losses = {int(r["round"]): _num((r.get("val") or {}).get("loss")) for r in facts.history}
    trained = sorted(r for r in losses if r >= 1)
    if len(trained) < 3:
        return []
    first, last = losses[trained[0]], losses[trained[-1]]
    if not (math.isfinite(first) and last > LOSS_RISE * first):
        return []
    message = (f"The validation loss rose over the run, from {first:.4f} after round "
               f"{trained[0]} to {last:.4f} after round {trained[-1]}: later rounds fit the "
               "training windows at the cost of new ones, or the sites pull the model apart.")
    remedies = ("fewer --local-epochs, or --strategy fedprox to keep sites near the global model",
                f"use the best round ({facts.best_round}): networkfed restore RUN --round "
                f"{facts.best_round}", "fewer --rounds")
    return [Finding("validation_loss_rose", "warning", message, (), remedies)]


def _worse_than_alone(facts: RunFacts) -> list[Finding]:
    if not facts.local:
        return []
    worse = {}
    for site, local in facts.local.items():
        fed_f1, alone_f1 = _num(facts.per_site.get(site, {}).get("f1")), _num(local.get("f1"))
        if fed_f1 < alone_f1 - WORSE_THAN_ALONE:
            worse[site] = (fed_f1, alone_f1)
    if not worse:
        return []
    where = ", ".join(f"{s} F1 {fed:.3f} federated vs {alone:.3f} alone"
                      for s, (fed, alone) in worse.items())
    message = f"A site is worse off in the federation than alone: {where}."
    return [Finding("worse_than_alone", "warning", message, _causes(facts, list(worse)),
                    _remedies(facts))]


def _causes(facts: RunFacts, sites: Sequence[str] = ()) -> tuple[str, ...]:
    """The likely causes the run's numbers can tell (``sites``: those the finding names)."""
    causes = []
    if facts.disagreements:
        shown = "; ".join(d.describe() for d in facts.disagreements[:3])
        causes.append("Sites disagree: a feature's correlation with failure has opposite signs "
                      f"at different sites ({shown}; from per-site sums, no row left a site), "
                      "so one shared model is pulled both ways.")
    failures = _num(facts.final.get("positives"))
    if failures < FEW_FAILURES:
        causes.append(f"Only {failures:.0f} failures in the test windows: every metric is noisy.")
    few = {site: _num(facts.per_site.get(site, {}).get("positives")) for site in sites}
    few = {site: n for site, n in few.items() if n < FEW_FAILURES}
    if few and failures >= FEW_FAILURES:
        counts = ", ".join(f"{site} {n:.0f}" for site, n in few.items())
        causes.append(f"Few test failures at {counts}: such a site's F1 moves a lot from seed "
                      "to seed; compare over several --seed values before acting.")
    return tuple(causes)


def _remedies(facts: RunFacts) -> tuple[str, ...]:
    """What to try, most specific first, leaving out what the run already does."""
    settings = facts.settings
    remedies = []
    if not settings.get("fedper"):
        remedies.append("--fedper: each site keeps its own output layer")
    if not settings.get("fedbn") and settings.get("model") in ("cnn", "hybrid"):
        remedies.append("--fedbn: each site keeps its own BatchNorm layers")
    if settings.get("normalization") != "site":
        remedies.append('per-site normalisation: normalization = "site" in the [data] table '
                        "of --config")
    if facts.disagreements:
        names = ", ".join(d.feature for d in facts.disagreements[:3])
        remedies.append(f"fewer features: --features without {names}")
    elif _num(settings.get("num_features")) > 3:
        remedies.append("fewer features (--features): keep the ones that matter at every site")
    if settings.get("dataset") == "csv" and settings.get("split") in ("auto", "time"):
        remedies.append("--split machine, if machines (or cycles) are episodes whose label does "
                        "not change: a time split then tests on what was trained on")
    return tuple(remedies)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
