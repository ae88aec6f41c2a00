"""Turn a run's ``dp_*`` settings into a private strategy, or refuse them with the numbers.

Every refusal is a ``ConfigError`` (exit code 2) raised before anything is written: a δ that
is not below one over the training examples, a rule that looks at individual updates
(client-level DP), a model that is not a torch network or that DP-SGD would have to change, and
a target ε that needs more noise than the run's sites can average away. Both engines run the
same wrapper (the Flower engine's rounds are the in-process engine's, with site work on Flower
nodes); what the sites must do (clip and noise their update, or run DP-SGD) travels to them in
the round's ``FitInstructions``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from torch import nn

from networkfed.core.errors import ConfigError
from networkfed.data.types import FederatedData
from networkfed.federated.config import RunConfig
from networkfed.federated.local_training import ModelSpec
from networkfed.federated.sampling import sample_sites
from networkfed.federated.strategies import Strategy, get_strategy_class, list_strategies
from networkfed.privacy.accounting import solve_noise_multiplier
from networkfed.privacy.client_dp import ClientLevelDP
from networkfed.privacy.dp_sgd import dp_sgd_changes, steps_per_epoch
from networkfed.privacy.sample_dp import SampleLevelDP

logger = logging.getLogger(__name__)

__all__ = ["dp_strategies", "noise_explanation", "privatize", "refuse_dp"]


def dp_strategies() -> list[str]:
    """The registered rules client-level DP may wrap (those that post-process the average)."""
    return [name for name in list_strategies() if get_strategy_class(name).dp_compatible]


def privatize(
    config: RunConfig, data: FederatedData, strategy: Strategy, spec: ModelSpec,
    training: Mapping[str, Any],
) -> Strategy:
    """``strategy`` wrapped in the DP ``config`` asks for (unchanged without ``dp``).

    Called before anything is written, so a refusal leaves no run folder behind.
    """
    _check_settings(config)
    if config.dp is None:
        return strategy
    module = spec.build(seed=config.seed).model
    if not _is_torch_network(module):
        raise ConfigError("dp (--dp)", config.dp, f"a torch network model ({config.model} "
                          "has no trainable torch parameters to clip and noise)")
    if config.dp == "sample":
        return _sample_level(config, data, strategy, module, int(training["batch_size"]))
    return _client_level(config, data, strategy, module)


def refuse_dp(config: RunConfig, why: str) -> None:
    """For a model DP cannot apply to (e.g. a tree ensemble): any ``dp_*`` setting is refused
    before anything is written, rather than the run going ahead without privacy."""
    given = config.dp is not None or any(
        getattr(config, name) is not None
        for name in ("dp_clip", "dp_clip_quantile", "dp_noise", "dp_epsilon"))
    if given:
        raise ConfigError("dp (--dp)", config.dp or "client",
                          f"a torch network model for differential privacy ({why})")


def noise_explanation(epsilon: float | None, sigma: float, sampled: int, rounds: int) -> str:
    """Why few sites need much noise, in numbers: the noise on the average (SD ``sigma *
    clip / sites``) is larger than the largest update the clip lets through."""
    wanted = f"target ε {epsilon:g} needs" if epsilon is not None else "--dp-noise gives"
    return (f"{wanted} noise multiplier {sigma:.2f} at {sampled} sites and {rounds} rounds: "
            f"the noise on the average (SD {sigma / sampled:.2f} x clip per coordinate) is "
            "larger than a whole clipped update, so the model cannot learn; use more sites, "
            "fewer rounds or a larger ε (--dp-noise runs anyway)")


def _client_level(config: RunConfig, data: FederatedData, strategy: Strategy,
                  module: nn.Module) -> ClientLevelDP:
    if not strategy.dp_compatible:
        raise ConfigError("strategy (--strategy)", config.strategy,
                          f"one of {', '.join(dp_strategies())} with --dp client: "
                          f"{config.strategy} looks at individual updates, so noise on their "
                          "average would no longer hide any one site")
    _check_delta(config, sum(len(site.train) for site in data.sites.values()), "the run's")
    sites = len(data.site_ids)
    sampled = len(sample_sites(data.site_ids, config.fraction_fit, config.min_fit_clients,
                               config.seed, 1))
    sample_rate = sampled / sites
    if config.dp_noise is not None:
        sigma = float(config.dp_noise)
        if sigma > sampled:
            logger.warning("%s", noise_explanation(None, sigma, sampled, config.rounds))
    else:
        sigma = solve_noise_multiplier(float(config.dp_epsilon or 0.0), config.dp_delta,
                                       sample_rate, config.rounds)
        if sigma > sampled:
            raise ConfigError("dp_epsilon (--dp-epsilon)", config.dp_epsilon,
                              "a budget the sites can carry: "
                              + noise_explanation(config.dp_epsilon, sigma, sampled,
                                                  config.rounds))
    if config.dp_clip_quantile is not None and sigma >= sampled / 10:
        raise ConfigError("dp_clip_quantile (--dp-clip-quantile)", config.dp_clip_quantile,
                          f"a fixed clip with {sampled} sites a round: adaptive clipping "
                          f"spends part of the budget on counting clipped updates (noise SD "
                          f"sites/20 = {sampled / 20:g}) and needs a noise multiplier below "
                          f"sites/10 = {sampled / 10:g}, not {sigma:.2f}")
    _warn_batchnorm(config, module)
    logger.info("client-level DP: noise multiplier %.3f, clip %g, %d of %d sites a round, "
                "delta %g", sigma, config.dp_clip, sampled, sites, config.dp_delta)
    return ClientLevelDP(strategy, clip=float(config.dp_clip or 0.0), noise_multiplier=sigma,
                         sample_rate=sample_rate, sampled_sites=sampled,
                         delta=config.dp_delta, side=config.dp_side, seed=config.seed,
                         target_quantile=config.dp_clip_quantile)


def _sample_level(config: RunConfig, data: FederatedData, strategy: Strategy,
                  module: nn.Module, batch_size: int) -> SampleLevelDP:
    changes, problem = dp_sgd_changes(module)
    if problem is not None:
        raise ConfigError("model (--model)", str(config.model),
                          f"a model DP-SGD can train as it is (lstm) with --dp sample: "
                          f"{problem}, and predict / export rebuild the original")
    if strategy.configure_fit(1).get("proximal_mu", 0.0):
        raise ConfigError("strategy (--strategy)", config.strategy,
                          "a rule without a proximal term with --dp sample (DP-SGD's noisy "
                          "steps do not take FedProx's extra gradient)")
    sizes = {site: len(data.sites[site].train) for site in data.site_ids}
    _check_delta(config, min(sizes.values()), "the smallest site's")
    if config.dp_noise is not None:
        sigma = float(config.dp_noise)
    else:  # one multiplier that keeps every site within the target
        sigma = max(
            solve_noise_multiplier(float(config.dp_epsilon or 0.0), config.dp_delta,
                                   min(1.0, batch_size / n),
                                   config.rounds * config.local_epochs
                                   * steps_per_epoch(n, batch_size))
            for n in sizes.values()
        )
    logger.info("sample-level DP-SGD: noise multiplier %.3f, per-example clip %g, delta %g%s",
                sigma, config.dp_clip, config.dp_delta,
                f"; trains with {', '.join(changes)}" if changes else "")
    return SampleLevelDP(strategy, clip=float(config.dp_clip or 0.0), noise_multiplier=sigma,
                         site_sizes=sizes, batch_size=batch_size,
                         local_epochs=config.local_epochs, delta=config.dp_delta,
                         changes=changes)


def _check_settings(config: RunConfig) -> None:
    """The ``dp_*`` options go together: a clip and exactly one of noise and ε, with ``dp``."""
    given = [name for name in ("dp_clip", "dp_clip_quantile", "dp_noise", "dp_epsilon")
             if getattr(config, name) is not None]
    if config.dp is None:
        if given or config.dp_side != "server":
            flag = "--" + (given or ["dp_side"])[0].replace("_", "-")
            raise ConfigError("dp (--dp)", None, f"client or sample with {flag}")
        return
    if config.dp == "sample" and config.dp_clip_quantile is not None:
        raise ConfigError("dp_clip_quantile (--dp-clip-quantile)", config.dp_clip_quantile,
                          "no adaptive clipping with --dp sample (it is for --dp client)")
    if config.dp == "sample" and config.dp_side != "server":
        raise ConfigError("dp_side (--dp-side)", config.dp_side,
                          "server (the default) with --dp sample: DP-SGD always runs at the "
                          "sites; --dp-side is for --dp client")
    if config.dp_clip is None:
        bounded = "one example's gradient" if config.dp == "sample" else "one site's update"
        raise ConfigError("dp_clip (--dp-clip)", None,
                          f"the L2 bound of {bounded}, with --dp {config.dp}")
    if (config.dp_noise is None) == (config.dp_epsilon is None):
        raise ConfigError("dp_noise (--dp-noise) or dp_epsilon (--dp-epsilon)",
                          config.dp_noise, f"exactly one of the two with --dp {config.dp}")


def _check_delta(config: RunConfig, examples: int, whose: str) -> None:
    if config.dp_delta >= 1.0 / examples:
        raise ConfigError("dp_delta (--dp-delta)", config.dp_delta,
                          f"a δ below 1/{examples} (one over {whose} {examples} training "
                          "examples; a larger δ allows leaking a whole example)")


def _warn_batchnorm(config: RunConfig, module: nn.Module) -> None:
    """BatchNorm statistics are not part of a DP update (see ``privacy.mechanism``)."""
    if config.fedbn or not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                               for m in module.modules()):
        return
    logger.warning("dp: the %s model's BatchNorm running statistics are not shared under DP "
                   "(they describe the sites' rows) and keep their initial values; add --fedbn "
                   "so every site keeps its own", config.model)


def _is_torch_network(module: object) -> bool:
    """Whether DP's arithmetic applies: a torch module with trainable float weights (a tree
    ensemble, say, has no update vector to clip nor per-example gradients)."""
    return isinstance(module, nn.Module) and any(
        p.requires_grad and p.is_floating_point() for p in module.parameters())
