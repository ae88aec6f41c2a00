"""SecAgg+ settings of ``flower up --secagg`` and what cannot run with it (no Flower imports:
the CLI checks these before it starts anything; see :mod:`networkfed.flower.secagg`)."""

from __future__ import annotations

from dataclasses import dataclass

from networkfed.core.errors import ConfigError
from networkfed.federated.config import RunConfig

__all__ = ["CLIPPING_RANGE", "INDIVIDUAL_UPDATE_RULES", "SecAggSettings", "check_secure_config"]

CLIPPING_RANGE = 8.0
"""Each weighted delta value is clipped to [-8, 8] before quantisation (Flower's default)."""

INDIVIDUAL_UPDATE_RULES = ("krum", "multikrum", "bulyan", "fedmedian", "fedtrimmedavg")
"""Robust rules that rank, trim or select individual updates: impossible on a secure sum."""


@dataclass(frozen=True)
class SecAggSettings:
    """SecAgg+ parameters of a run.

    Attributes
    ----------
    shares
        Shares each site's secrets are split into (its neighbours, itself included); ``0``: every
        sampled site, so each site's secrets can be rebuilt from any ``threshold`` others.
    threshold
        Shares needed to rebuild a secret; ``0``: a majority of the shares. Fewer surviving
        neighbours than this and the round stops (privacy is never traded for progress); each
        set of ``threshold`` colluding sites could unmask one neighbour, so higher is safer.
    clipping_range
        Each weighted update value is clipped to ``[-clip, clip]`` before quantisation. Updates
        are deltas from the global model (small), so 8 leaves ample room.
    quantization_range
        Integer levels over ``[-clip, clip]`` (2**22: steps of ~4e-6).
    """

    shares: int = 0
    threshold: int = 0
    clipping_range: float = CLIPPING_RANGE
    quantization_range: int = 2**22

    def resolved(self, num_sites: int) -> tuple[int, int]:
        """``(shares, threshold)`` for ``num_sites`` sampled sites (the defaults filled in)."""
        shares = self.shares or num_sites
        return shares, self.threshold or shares // 2 + 1

    def check(self, num_sites: int) -> None:
        """Refuse settings SecAgg+ cannot run with ``num_sites`` sites (one-line errors)."""
        if num_sites < 3:
            raise ConfigError("--secagg", f"{num_sites} sites", "at least 3 sites (with 2, "
                              "each site could subtract its own update from the sum)")
        if self.shares and not 3 <= self.shares <= num_sites:
            raise ConfigError("--secagg-shares", self.shares,
                              f"0 (every site) or 3 to {num_sites} (the sites)")
        shares, threshold = self.resolved(num_sites)
        if threshold > num_sites:
            raise ConfigError("--secagg-threshold", threshold,
                              f"at most the {num_sites} sites (shares of a secret are held by "
                              "sites; more could never be collected)")
        if not 2 <= threshold < shares:
            raise ConfigError("--secagg-threshold", threshold,
                              f"0 (a majority) or 2 to {shares - 1} (fewer than the {shares} "
                              "shares)")


def check_secure_config(config: RunConfig, settings: SecAggSettings, num_sites: int) -> None:
    """Refuse what cannot run on a sum of updates, before anything is started or written."""
    strategy = str(getattr(config.strategy, "value", config.strategy))
    if strategy in INDIVIDUAL_UPDATE_RULES:
        raise ConfigError("--strategy", strategy, "a mean-based rule with --secagg (fedavg, "
                          "fedprox, fedavgm, fedadam, fedyogi, fedadagrad): "
                          f"{strategy} needs every site's own update, the server sees only "
                          "their sum")
    model = str(getattr(config.model, "value", config.model))
    if model == "xgboost":
        raise ConfigError("--model", model, "a neural model with --secagg (xgboost trees are "
                          "not sums of numbers)")
    if config.fedbn or config.fedper:
        raise ConfigError("--fedbn/--fedper", True, "off with --secagg (the sites' own layers "
                          "would travel in the secure sum)")
    if config.attack is not None:
        raise ConfigError("attack", config.attack, "none with --secagg (a simulated attack "
                          "changes individual updates the server never sees)")
    if config.dp == "client":
        raise ConfigError("dp", "client", "'sample' or none with --secagg (client-level DP "
                          "clips each site's update at the server and averages unweighted)")
    settings.check(num_sites)
