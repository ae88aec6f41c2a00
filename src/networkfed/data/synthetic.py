"""Built-in telemetry: the AI4I 2020 generator's published rules, simulated per machine.

The AI4I 2020 data set (Matzka 2020) was itself produced by a generator whose rules are
published with it. Replaying those rules *per machine and in time order* gives telemetry in
which a window of consecutive processes means something (tool wear grows, temperatures drift)
and in which every failure mode has the published physical cause. A :class:`FactoryProfile`
shifts the product mix, ambient temperature, load, wear rate and machine count so the example
sites are non-IID, the way real plants differ.

Rules reproduced (per process, i.e. per row):

- product quality L / M / H drawn from the site's mix (AI4I: 50 / 30 / 20 %);
- air temperature: a random walk normalised to SD 2 K around the site's ambient (AI4I: 300 K);
- process temperature: air + 10 K + a random walk normalised to SD 1 K (a hot hall keeps
  0.1 K less margin per K above 300 K: NetworkFed's one addition, so ambient matters);
- torque: normal around 40 Nm x load (SD 10 Nm), never negative;
- rotational speed: from the power curve fitted to AI4I (speed = 5862 rpm x torque^-0.368,
  about 2,860 rpm at the lowest torques) with multiplicative normal noise;
- tool wear: +5 / +3 / +2 min per process for H / M / L (x the site's wear rate);
- TWF: the tool fails or is replaced at a random wear between 200 and 240 min (fails in 51 of
  120 cases, as in AI4I); HDF: process - air < 8.6 K and speed < 1380 rpm; PWF: power
  outside 3500-9000 W; OSF: wear x torque above 11,000 / 12,000 / 13,000 min Nm for L / M / H;
  RNF: probability 0.1 %. The tool is replaced at end of life (TWF or not) and after an
  overstrain failure; heat, power and random failures leave the tool in place.

One rule is NetworkFed's own, off in the three example sites: a *thermal stress failure*
(``TSF``) with probability 0.3 x sigmoid(``FactoryProfile.thermal_failure`` x the air
temperature's deviation from the site's ambient in SDs of 2 K). Its sign is the site's:
positive, the machines fail when the hall is warm; negative, when it is cold. The ``plant_heat`` and
``plant_cold`` presets (with ``plant_mild``, which has no thermal failures, the *sign-flip*
scenario: :data:`networkfed.data.config.SCENARIOS`) are otherwise identical plants with
opposite signs: the same feature goes with failure at one and against it at the other, which
one shared model cannot learn.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from networkfed.core.errors import ConfigError
from networkfed.data.config import EXAMPLE_SITES

__all__ = [
    "AI4I_NUMERIC_COLUMNS",
    "FAILURE_MODES",
    "PRESETS",
    "FactoryProfile",
    "generate_site_telemetry",
    "profile_for_site",
]

QUALITIES = ("L", "M", "H")
WEAR_PER_PROCESS = np.array([2.0, 3.0, 5.0])  # min per process for L, M, H
OSF_LIMIT = np.array([11_000.0, 12_000.0, 13_000.0])  # min Nm for L, M, H
FAILURE_MODES = ("TWF", "HDF", "PWF", "OSF", "RNF")
AI4I_NUMERIC_COLUMNS = (
    "Air temperature [K]",
    "Process temperature [K]",
    "Rotational speed [rpm]",
    "Torque [Nm]",
    "Tool wear [min]",
)
_TWF_FAIL_SHARE = 51 / 120
_RNF_PROBABILITY = 0.001
_SPEED_SCALE, _SPEED_EXPONENT, _SPEED_NOISE = 5862.0, -0.368, 0.036
_MIN_TORQUE = 3.0
_RPM_TO_RAD_S = 2.0 * np.pi / 60.0
_THERMAL_MAX_RATE = 0.3
"""Thermal stress failures happen with probability ``0.3 x sigmoid(slope x z)`` (``z``: air
temperature above ambient in SDs), about 15 % of processes. Two sites with opposite slopes
then add up to a flat 15 % at every temperature: pooled, the feature says nothing."""


@dataclass(frozen=True)
class FactoryProfile:
    """How one site's machines and products differ from the AI4I reference plant.

    Attributes
    ----------
    name
        The site id the profile is used for.
    machines
        Number of machines simulated side by side; the site's rows are spread over them.
    product_mix
        Shares of product quality L, M, H (sum to 1).
    ambient_temperature
        Mean air temperature in K (AI4I: 300 K); a hotter hall dissipates heat worse.
    load
        Torque multiplier (mean torque 40 Nm x load): more load, more overstrain and power
        failures.
    wear_rate
        Tool wear multiplier: faster wear, more tool-wear and overstrain failures.
    rows_per_machine
        Default rows per machine when no row count is requested.
    thermal_failure
        Slope of the thermal stress failure's probability, 0.3 x sigmoid(slope x deviation of
        the air temperature from ambient in SDs of 2 K): positive, failures in warm spells;
        negative, in cold ones; 0 (AI4I, the example sites) means no such failures.
    """

    name: str
    machines: int
    product_mix: tuple[float, float, float] = (0.5, 0.3, 0.2)
    ambient_temperature: float = 300.0
    load: float = 1.0
    wear_rate: float = 1.0
    rows_per_machine: int = 650
    thermal_failure: float = 0.0

    def __post_init__(self) -> None:
        if self.machines < 1:
            raise ConfigError("machines", self.machines, "an integer >= 1")
        mix = np.asarray(self.product_mix, dtype=float)
        if mix.shape != (3,) or (mix < 0).any() or not np.isclose(mix.sum(), 1.0):
            expected = "three shares (L, M, H) summing to 1"
            raise ConfigError("product_mix", self.product_mix, expected)
        for option in ("load", "wear_rate", "rows_per_machine"):
            if getattr(self, option) <= 0:
                raise ConfigError(option, getattr(self, option), "a positive number")

    @property
    def default_rows(self) -> int:
        """Rows generated for this site when the configuration does not say."""
        return self.machines * self.rows_per_machine


PRESETS: dict[str, FactoryProfile] = {
    profile.name: profile
    for profile in (
        FactoryProfile(
            "automotive_detroit",
            machines=8,
            product_mix=(0.6, 0.3, 0.1),
            ambient_temperature=299.0,
            load=1.05,
            wear_rate=1.0,
        ),
        FactoryProfile(
            "chemical_houston",
            machines=7,
            product_mix=(0.45, 0.35, 0.2),
            ambient_temperature=304.0,
            load=0.95,
            wear_rate=1.2,
        ),
        FactoryProfile(
            "aerospace_seattle",
            machines=9,
            product_mix=(0.2, 0.3, 0.5),
            ambient_temperature=296.0,
            load=1.0,
            wear_rate=0.8,
        ),
        FactoryProfile("plant_heat", machines=8, ambient_temperature=292.0, thermal_failure=3.0),
        FactoryProfile("plant_cold", machines=8, ambient_temperature=292.0, thermal_failure=-3.0),
        FactoryProfile("plant_mild", machines=8, ambient_temperature=292.0),
    )
}


def profile_for_site(site_id: str, index: int) -> FactoryProfile:
    """The preset named ``site_id``, or preset ``index`` (cyclically) renamed to ``site_id``.

    Lets a user ask for more synthetic sites than presets while every site stays one of the
    three documented plant types.
    """
    if site_id in PRESETS:
        return PRESETS[site_id]
    base = PRESETS[EXAMPLE_SITES[index % len(EXAMPLE_SITES)]]
    return replace(base, name=site_id)


def _site_rng(seed: int, site_id: str) -> np.random.Generator:
    """A generator that depends only on the seed and the site's name, not on other sites."""
    return np.random.default_rng([seed, zlib.crc32(site_id.encode())])


def _normalised_walk(rng: np.random.Generator, shape: tuple[int, int], sd: float) -> np.ndarray:
    """Random walks along axis 1, each rescaled to mean 0 and SD ``sd`` (AI4I's recipe)."""
    walk = np.cumsum(rng.normal(size=shape), axis=1)
    walk -= walk.mean(axis=1, keepdims=True)
    scale = walk.std(axis=1, keepdims=True)
    return walk / np.where(scale > 0, scale, 1.0) * sd


def _process_conditions(
    profile: FactoryProfile, rng: np.random.Generator, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Everything that does not depend on tool wear, for all machines and steps at once."""
    quality = rng.choice(3, size=shape, p=np.asarray(profile.product_mix))
    air = profile.ambient_temperature + _normalised_walk(rng, shape, 2.0)
    margin = 10.0 - 0.1 * (profile.ambient_temperature - 300.0)
    process = air + margin + _normalised_walk(rng, shape, 1.0)
    torque = np.maximum(rng.normal(40.0 * profile.load, 10.0, shape), _MIN_TORQUE)
    noise = np.exp(rng.normal(0.0, _SPEED_NOISE, shape))
    speed = _SPEED_SCALE * torque**_SPEED_EXPONENT * noise
    power = torque * speed * _RPM_TO_RAD_S
    return {
        "quality": quality,
        "air": np.round(air, 1),
        "process": np.round(process, 1),
        "torque": np.round(torque, 1),
        "speed": np.rint(speed),
        "HDF": (process - air < 8.6) & (speed < 1380.0),
        "PWF": (power < 3500.0) | (power > 9000.0),
        "RNF": rng.random(shape) < _RNF_PROBABILITY,
        "increment": np.rint(WEAR_PER_PROCESS[quality] * profile.wear_rate),
        "tool_life": rng.uniform(200.0, 240.0, shape),
        "twf_fails": rng.random(shape) < _TWF_FAIL_SHARE,
    }


def _run_tools(cond: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Step all machines through time: wear accumulates, tools fail or are replaced.

    Only this part is sequential (a replacement resets wear), so the loop is over time steps
    with every operation vectorised over machines.
    """
    machines, steps = cond["quality"].shape
    wear_out = np.zeros((machines, steps))
    twf = np.zeros((machines, steps), dtype=bool)
    osf = np.zeros((machines, steps), dtype=bool)
    wear, life = np.zeros(machines), cond["tool_life"][:, 0].copy()
    osf_limit = OSF_LIMIT[cond["quality"]]
    for t in range(steps):
        wear_out[:, t] = wear
        worn = wear >= life
        twf[:, t] = worn & cond["twf_fails"][:, t]
        osf[:, t] = wear * cond["torque"][:, t] > osf_limit[:, t]
        replace = worn | osf[:, t]
        wear = np.where(replace, 0.0, wear + cond["increment"][:, t])
        life = np.where(replace, cond["tool_life"][:, t], life)
    return {"wear": wear_out, "TWF": twf, "OSF": osf}


def _thermal_failures(profile: FactoryProfile, seed: int, air: np.ndarray) -> np.ndarray:
    """Thermal stress failures, drawn from their own generator so that the AI4I rules' rows
    are the same with or without them."""
    rng = np.random.default_rng([seed, zlib.crc32(profile.name.encode()), 1])
    logit = profile.thermal_failure * (air - profile.ambient_temperature) / 2.0
    return rng.random(air.shape) < _THERMAL_MAX_RATE / (1.0 + np.exp(-logit))


def generate_site_telemetry(
    profile: FactoryProfile, rows: int, seed: int, *, min_rows_per_machine: int = 1
) -> pd.DataFrame:
    """Generate ``rows`` processes for one site, spread evenly over its machines.

    A small ``rows`` uses fewer machines, so each keeps ``min_rows_per_machine`` rows (enough
    for a window in every split of its history).

    Returns AI4I-style columns (``Type``, the five measurements, ``Machine failure`` and the
    five mode flags) plus ``machine_id`` and ``step`` (time order within the machine), sorted by
    machine then step. Deterministic for ``(seed, profile.name)``.
    """
    if rows < 1:
        raise ConfigError("rows_per_site", rows, "an integer >= 1")
    machines = max(1, min(profile.machines, rows // max(min_rows_per_machine, 1)))
    steps = -(-rows // machines)
    rng = _site_rng(seed, profile.name)
    cond = _process_conditions(profile, rng, (machines, steps))
    tools = _run_tools(cond)
    lengths = np.full(machines, rows // machines) + (np.arange(machines) < rows % machines)
    keep = np.arange(steps)[None, :] < lengths[:, None]
    modes = {mode: (tools | cond)[mode][keep] for mode in FAILURE_MODES}
    if profile.thermal_failure:
        modes["TSF"] = _thermal_failures(profile, seed, cond["air"])[keep]
    failure = np.logical_or.reduce(list(modes.values()))
    machine_index = np.broadcast_to(np.arange(machines)[:, None], keep.shape)[keep]
    frame = pd.DataFrame(
        {
            "machine_id": [f"{profile.name}-m{i:02d}" for i in machine_index],
            "step": np.broadcast_to(np.arange(steps)[None, :], keep.shape)[keep],
            "Type": np.asarray(QUALITIES)[cond["quality"][keep]],
            "Air temperature [K]": cond["air"][keep],
            "Process temperature [K]": cond["process"][keep],
            "Rotational speed [rpm]": cond["speed"][keep].astype(np.int64),
            "Torque [Nm]": cond["torque"][keep],
            "Tool wear [min]": tools["wear"][keep].astype(np.int64),
            "Machine failure": failure.astype(np.int64),
        }
    )
    for mode, flags in modes.items():
        frame[mode] = flags.astype(np.int64)
    return frame
