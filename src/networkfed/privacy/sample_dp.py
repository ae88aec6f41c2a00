"""Sample-level DP-SGD around a strategy: the sites train privately, the server keeps the books.

Every site runs DP-SGD (:mod:`networkfed.privacy.dp_sgd`) with the clip and noise multiplier
this wrapper sends in each round's configuration. What a site sends is then already private
with respect to its own rows, so the server may aggregate it with any rule (post-processing).

Accounting: one accountant per site for the whole run — not one per round, the mistake of
Flower's Opacus example — composing every DP-SGD step the site took (``local_epochs`` x
its batches a round, sampling rate ``batch_size / its training examples``). The steps are a
pure function of the site's size, so the server keeps the sites' ledgers exactly as the sites
would, checkpointed with the strategy state so ``--resume`` continues every site's ε.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from networkfed.core.errors import CheckpointError
from networkfed.federated.strategies import Strategy
from networkfed.federated.types import SiteUpdate
from networkfed.privacy.accounting import HISTORY_KEY, PrivacyAccountant
from networkfed.privacy.dp_sgd import steps_per_epoch

__all__ = ["SampleLevelDP"]

_INNER = "inner/"
_SITE = "site/"


class SampleLevelDP(Strategy):
    """Send DP-SGD settings to the sites, account per site, aggregate with ``inner``.

    Parameters
    ----------
    inner
        The aggregation rule (any: the updates are private already).
    clip, noise_multiplier
        Per-example gradient bound and DP-SGD noise multiplier.
    site_sizes
        Training examples of every site (its sampling rate and steps per epoch).
    batch_size, local_epochs, delta
        Local training's batch size and epochs; the δ of the reported ε.
    changes
        What Opacus' fix replaced for training (e.g. ``LSTM -> DPLSTM``), recorded with ε.
    """

    name = "dp-sample"
    summary = "Sample-level DP-SGD at every site, accounted per site."

    def __init__(
        self, inner: Strategy, *, clip: float, noise_multiplier: float,
        site_sizes: Mapping[str, int], batch_size: int, local_epochs: int, delta: float,
        changes: Sequence[str] = (),
    ) -> None:
        self.inner, self.clip, self.noise_multiplier = inner, float(clip), float(noise_multiplier)
        self.site_sizes, self.batch_size = dict(site_sizes), int(batch_size)
        self.local_epochs, self.changes = int(local_epochs), list(changes)
        self.accountants = {site: PrivacyAccountant(delta) for site in self.site_sizes}
        self.delta = float(delta)

    def sample_rate(self, site_id: str) -> float:
        return min(1.0, self.batch_size / self.site_sizes[site_id])

    def steps_per_round(self, site_id: str) -> int:
        return self.local_epochs * steps_per_epoch(self.site_sizes[site_id], self.batch_size)

    def configure_fit(self, round_num: int) -> dict[str, float | int | str]:
        return {**self.inner.configure_fit(round_num), "dp_sample_clip": self.clip,
                "dp_sample_noise": self.noise_multiplier}

    def precondition(self, num_updates: int) -> str | None:
        return self.inner.precondition(num_updates)

    def sites_trained(self, round_num: int, site_ids: Sequence[str]) -> None:
        for site in site_ids:  # every site that trained spent privacy, accepted or not
            rate = self.sample_rate(site)
            for _ in range(self.steps_per_round(site)):
                self.accountants[site].step(self.noise_multiplier, rate)
        self.inner.sites_trained(round_num, site_ids)

    def aggregate(
        self, round_num: int, global_state: Mapping[str, Tensor], updates: list[SiteUpdate]
    ) -> dict[str, Tensor]:
        return self.inner.aggregate(round_num, global_state, updates)

    def privacy_spent(self) -> dict[str, Any]:
        """Every site's ε (each protects its own rows) and the largest, for the run."""
        per_site = {site: a.epsilon() for site, a in self.accountants.items()}
        return {"mode": "sample", "epsilon": max(per_site.values(), default=0.0),
                "delta": self.delta, "per_site_epsilon": per_site,
                "noise_multiplier": self.noise_multiplier, "clip": self.clip,
                "steps_accounted": {s: a.rounds for s, a in self.accountants.items()},
                "dp_sgd_changes": self.changes}

    def state_dict(self) -> dict[str, Tensor]:
        state = {_INNER + key: value for key, value in self.inner.state_dict().items()}
        for site, accountant in self.accountants.items():
            state[f"{_SITE}{site}/{HISTORY_KEY}"] = accountant.state_dict()[HISTORY_KEY]
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        inner = {k[len(_INNER):]: v for k, v in state.items() if k.startswith(_INNER)}
        for site, accountant in self.accountants.items():
            key = f"{_SITE}{site}/{HISTORY_KEY}"
            if key not in state:
                raise CheckpointError("strategy state", f"no DP-SGD ledger of site {site!r}: "
                                      "resume with the same --dp options")
            accountant.load_state_dict({HISTORY_KEY: state[key]})
        self.inner.load_state_dict(inner)

    def get_options(self) -> dict[str, Any]:
        return {"inner": self.inner.name, "clip": self.clip,
                "noise_multiplier": self.noise_multiplier}
