"""Hostile and broken sites, simulated: what an attacker does to its update before sending it.

A run with ``attack`` set picks ``attackers`` sites once, by seed (:func:`choose_attackers`).
Every round those of them that trained send a changed update: the server-side
:func:`attack_updates` rewrites their (honestly trained) updates, a pure function of the
round's global state, its updates and the seed, so the in-process engine and the Flower engine
(which runs the same round loop) produce the same attacked rounds. ``label-flip`` is the one
attack that lives at the site: it trains on flipped labels (``FitInstructions.flip_labels``),
in the engine's own local training, which Flower's ``ClientApp`` runs too.

The attacks (``delta`` = a site's update minus the global state, on the model's floating
weights; BatchNorm running statistics and step counters are left as trained, since the attacks
of the literature target the weight vector):

* ``sign-flip``: ``-delta``;
* ``gaussian``: ``delta`` plus ``N(0, sd²)`` noise on every weight;
* ``scaling``: ``scale * delta`` (model replacement [Bagdasaryan et al., 2020]: with ``scale``
  = the number of updates, FedAvg adopts the attacker's model);
* ``alie`` ("a little is enough" [Baruch et al., 2019]): ``mean + z * sd`` of the honest
  deltas per coordinate, ``z = Φ⁻¹((n - f - s) / (n - f))`` with ``s = floor(n/2) + 1 - f``;
* ``ipm`` (inner-product manipulation [Xie et al., 2020]): ``-epsilon * mean`` of the honest
  deltas;
* ``label-flip``: trained on ``1 - y`` (the update is sent as trained);
* ``nan``: every weight NaN (a broken site; update validation rejects it);
* ``stale``: the global model the site received, unchanged (a site stuck on last round's
  model: a zero update that still carries its example count).

ALIE and IPM attackers collude and know the honest updates of the round (the strongest,
omniscient setting those papers assume); all of them send the same vector.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import get_args

import torch
from torch import Tensor

from networkfed.core.errors import ConfigError
from networkfed.federated.config import AttackName
from networkfed.federated.local_training import site_seed
from networkfed.federated.strategies.arrays import is_server_optimisable
from networkfed.federated.strategies.options import Option
from networkfed.federated.types import SiteUpdate

logger = logging.getLogger(__name__)

__all__ = [
    "ATTACK_OPTIONS",
    "Adversary",
    "AttackName",
    "alie_z",
    "attack_updates",
    "check_attack_options",
    "choose_attackers",
]

ATTACK_OPTIONS: dict[str, dict[str, Option]] = {
    "sign-flip": {},
    "gaussian": {"sd": Option(default=1.0, low=0.0, low_open=True,
                              help="Standard deviation of the noise added to every weight.")},
    "scaling": {"scale": Option(default=0.0, low=0.0,
                                help="Boost factor λ (0 = the number of updates in the round: "
                                     "model replacement).")},
    "alie": {"z": Option(default=math.nan,
                         help="How many standard deviations from the mean (default: "
                              "Φ⁻¹((n - f - s) / (n - f)), Baruch et al.).")},
    "ipm": {"epsilon": Option(default=0.1, low=0.0, low_open=True,
                              help="ε: the attackers send -ε times the honest mean update.")},
    "label-flip": {},
    "nan": {},
    "stale": {},
}
"""Attack name -> option name -> :class:`Option` (default, allowed range, help)."""


def check_attack_options(attack: str, options: Mapping[str, object]) -> dict[str, float]:
    """``options`` validated for ``attack`` (unknown names and bad values raise ``ConfigError``)."""
    allowed = ATTACK_OPTIONS[attack]
    checked: dict[str, float] = {}
    for key, value in options.items():
        if key not in allowed:
            valid = ", ".join(allowed) or "none"
            raise ConfigError(f"attack_options.{key}", value,
                              f"an option of attack '{attack}' ({valid})")
        checked[key] = float(allowed[key].check(f"{attack}.{key}", value))
    return checked


def choose_attackers(site_ids: Sequence[str], count: int, seed: int) -> tuple[str, ...]:
    """``count`` sites drawn once from ``seed`` (the same every round and on every engine)."""
    if not 0 <= count < len(site_ids):
        raise ConfigError("attackers", count,
                          f"an integer in [0, {len(site_ids) - 1}] (fewer than the "
                          f"{len(site_ids)} sites: at least one must be honest)")
    rng = random.Random(site_seed(seed, "<attackers>", 0, "attack"))
    return tuple(sorted(rng.sample(sorted(site_ids), count)))


def alie_z(num_updates: int, num_attackers: int) -> float:
    """Baruch et al.'s ``z``: the largest shift that stays inside the honest majority's spread.

    ``s = floor(n/2) + 1 - f`` honest sites must lie farther from the mean than the attackers
    for them to be picked; ``z = Φ⁻¹((n - f - s) / (n - f))``. The probability is kept inside
    [0.001, 0.999] so that tiny federations (``n - f - s <= 0``) get a finite value.
    """
    n, f = num_updates, num_attackers
    s = n // 2 + 1 - f
    probability = (n - f - s) / max(n - f, 1)
    return NormalDist().inv_cdf(min(max(probability, 1e-3), 1 - 1e-3))


def attack_updates(
    attack: str,
    options: Mapping[str, float],
    global_state: Mapping[str, Tensor],
    updates: Sequence[SiteUpdate],
    attackers: Sequence[str],
    *,
    seed: int,
    round_num: int,
) -> list[SiteUpdate]:
    """The round's updates with every attacker's update replaced as ``attack`` says.

    Honest updates (and, for ``label-flip``, every update) pass through unchanged; the result
    keeps the order of ``updates``. Only floating weights are changed (see the module notes).
    """
    hostile = [u for u in updates if u.site_id in set(attackers)]
    if not hostile or attack == "label-flip":
        return list(updates)
    keys = [k for k, v in global_state.items() if is_server_optimisable(k, v)]
    honest = [u for u in updates if u.site_id not in set(attackers)] or list(updates)
    shared = _colluding_delta(attack, options, global_state, honest, len(updates), len(hostile),
                              keys)
    changed = {}
    for update in hostile:
        delta = shared if shared is not None else _own_delta(
            attack, options, global_state, update, len(updates), keys, seed, round_num)
        state = dict(update.state)
        state.update({key: (global_state[key] + delta[key]).to(global_state[key].dtype)
                      for key in keys})
        changed[update.site_id] = SiteUpdate(update.site_id, state, update.num_examples,
                                             dict(update.metrics))
    logger.debug("round %d: %s attack by %s", round_num, attack, ", ".join(sorted(changed)))
    return [changed.get(u.site_id, u) for u in updates]


def _deltas(global_state: Mapping[str, Tensor], update: SiteUpdate,
            keys: Sequence[str]) -> dict[str, Tensor]:
    return {key: update.state[key].double() - global_state[key].double() for key in keys}


def _colluding_delta(
    attack: str, options: Mapping[str, float], global_state: Mapping[str, Tensor],
    honest: Sequence[SiteUpdate], num_updates: int, num_attackers: int, keys: Sequence[str],
) -> dict[str, Tensor] | None:
    """The one delta every ALIE / IPM attacker sends (``None`` for the other attacks)."""
    if attack not in ("alie", "ipm"):
        return None
    stacked = {key: torch.stack([_deltas(global_state, u, [key])[key] for u in honest])
               for key in keys}
    if attack == "ipm":
        epsilon = options.get("epsilon", ATTACK_OPTIONS["ipm"]["epsilon"].default)
        return {key: -epsilon * values.mean(dim=0) for key, values in stacked.items()}
    z = options.get("z", math.nan)
    z = alie_z(num_updates, num_attackers) if math.isnan(z) else z
    return {key: values.mean(dim=0) + z * values.std(dim=0, unbiased=False)
            for key, values in stacked.items()}


def _own_delta(
    attack: str, options: Mapping[str, float], global_state: Mapping[str, Tensor],
    update: SiteUpdate, num_updates: int, keys: Sequence[str], seed: int, round_num: int,
) -> dict[str, Tensor]:
    """One attacker's delta from its own honest one."""
    delta = _deltas(global_state, update, keys)
    if attack == "sign-flip":
        return {key: -value for key, value in delta.items()}
    if attack == "scaling":
        scale = options.get("scale", 0.0) or float(num_updates)
        return {key: scale * value for key, value in delta.items()}
    if attack == "gaussian":
        sd = options.get("sd", ATTACK_OPTIONS["gaussian"]["sd"].default)
        rng = torch.Generator().manual_seed(site_seed(seed, update.site_id, round_num, "attack"))
        return {key: value + sd * torch.randn(value.shape, generator=rng, dtype=torch.float64)
                for key, value in delta.items()}
    if attack == "nan":
        return {key: torch.full_like(value, math.nan) for key, value in delta.items()}
    if attack == "stale":
        return {key: torch.zeros_like(value) for key, value in delta.items()}
    raise ConfigError("attack", attack, "one of " + ", ".join(get_args(AttackName)))


@dataclass(frozen=True)
class Adversary:
    """A run's attack: which sites, what they do (built by :meth:`for_run`)."""

    attack: str
    attackers: tuple[str, ...]
    seed: int
    options: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_run(cls, attack: str | None, count: int, options: Mapping[str, object],
                site_ids: Sequence[str], seed: int) -> Adversary | None:
        """The run's adversary, or ``None`` when it has no attack."""
        if attack is None:
            return None
        return cls(attack, choose_attackers(site_ids, count, seed), seed,
                   check_attack_options(attack, options))

    def flips_labels(self, site_id: str) -> bool:
        """Whether ``site_id`` trains on flipped labels (a ``label-flip`` attacker)."""
        return self.attack == "label-flip" and site_id in self.attackers

    def apply(self, round_num: int, global_state: Mapping[str, Tensor],
              updates: Sequence[SiteUpdate]) -> list[SiteUpdate]:
        """The round's updates as the server receives them (see :func:`attack_updates`)."""
        return attack_updates(self.attack, self.options, global_state, updates,
                              self.attackers, seed=self.seed, round_num=round_num)

    def describe(self) -> dict[str, object]:
        """For ``summary.json`` and the report."""
        return {"name": self.attack, "attackers": list(self.attackers),
                "options": dict(self.options)}
