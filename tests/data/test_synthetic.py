"""The built-in generator follows the published AI4I rules and makes the example sites differ."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from networkfed.core.errors import ConfigError
from networkfed.data.config import EXAMPLE_SITES, SCENARIOS, DataConfig
from networkfed.data.synthetic import (
    FAILURE_MODES,
    PRESETS,
    FactoryProfile,
    generate_site_telemetry,
    profile_for_site,
)

DETROIT = PRESETS["automotive_detroit"]


@pytest.fixture(scope="module")
def telemetry() -> pd.DataFrame:
    return generate_site_telemetry(DETROIT, 6000, seed=7)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = generate_site_telemetry(DETROIT, 500, seed=1)
    pd.testing.assert_frame_equal(first, generate_site_telemetry(DETROIT, 500, seed=1))
    assert not first.equals(generate_site_telemetry(DETROIT, 500, seed=2))


def test_row_count_and_machines(telemetry: pd.DataFrame) -> None:
    assert len(telemetry) == 6000
    assert telemetry["machine_id"].nunique() == DETROIT.machines
    steps = telemetry.groupby("machine_id")["step"]
    assert (steps.diff().dropna() == 1).all()  # time order within each machine


def test_failure_rules_hold(telemetry: pd.DataFrame) -> None:
    difference = telemetry["Process temperature [K]"] - telemetry["Air temperature [K]"]
    speed, torque = telemetry["Rotational speed [rpm]"], telemetry["Torque [Nm]"]
    power = torque * speed * 2 * np.pi / 60
    hdf = telemetry["HDF"] == 1
    assert (difference[hdf] < 8.6 + 0.1).all() and (speed[hdf] < 1380 + 1).all()
    pwf = telemetry["PWF"] == 1
    assert ((power[pwf] < 3600) | (power[pwf] > 8900)).all()
    osf = telemetry["OSF"] == 1
    assert (telemetry["Tool wear [min]"][osf] * torque[osf] > 10_900).all()
    any_mode = telemetry[list(FAILURE_MODES)].max(axis=1)
    assert (telemetry["Machine failure"] == any_mode).all()
    assert (torque >= 0).all()


def test_tool_is_replaced_after_wear_failure(telemetry: pd.DataFrame) -> None:
    wear = telemetry["Tool wear [min]"].to_numpy()
    twf = np.flatnonzero(telemetry["TWF"].to_numpy() == 1)
    assert twf.size > 0
    same_machine = telemetry["machine_id"].to_numpy()
    for row in twf:
        assert 200 <= wear[row] <= 245
        if row + 1 < len(wear) and same_machine[row + 1] == same_machine[row]:
            assert wear[row + 1] == 0


def test_failure_rate_is_realistic_and_sites_differ() -> None:
    rates = {
        name: generate_site_telemetry(PRESETS[name], 8000, seed=3)["Machine failure"].mean()
        for name in EXAMPLE_SITES  # the sign-flip presets add thermal failures on purpose
    }
    assert all(0.01 < rate < 0.06 for rate in rates.values())
    assert 0.02 < np.mean(list(rates.values())) < 0.045
    assert max(rates.values()) > 1.5 * min(rates.values())


def test_product_mix_follows_profile() -> None:
    rows = generate_site_telemetry(PRESETS["aerospace_seattle"], 8000, seed=0)
    shares = rows["Type"].value_counts(normalize=True)
    assert abs(shares["H"] - 0.5) < 0.03


def test_small_row_counts_use_fewer_machines() -> None:
    rows = generate_site_telemetry(DETROIT, 200, seed=0, min_rows_per_machine=80)
    assert rows["machine_id"].nunique() == 2
    assert len(rows) == 200


def test_unknown_site_names_cycle_through_presets() -> None:
    profile = profile_for_site("site_4", 4)
    assert profile.name == "site_4"
    assert profile.machines == list(PRESETS.values())[1].machines


@pytest.mark.parametrize(
    "options",
    [{"machines": 0}, {"product_mix": (0.5, 0.5, 0.5)}, {"load": 0.0}, {"wear_rate": -1.0}],
)
def test_bad_profile_is_a_config_error(options: dict) -> None:
    with pytest.raises(ConfigError):
        FactoryProfile(**{"name": "x", "machines": 2, **options})


def test_sign_flip_presets_relate_air_temperature_to_failure_with_opposite_signs() -> None:
    # Execute
    correlation = {}
    for name in SCENARIOS["sign-flip"]:
        frame = generate_site_telemetry(PRESETS[name], 6000, seed=5)
        air, failure = frame["Air temperature [K]"], frame["Machine failure"]
        correlation[name] = np.corrcoef(air, failure)[0, 1]

    # Assert
    assert correlation["plant_heat"] > 0.15
    assert correlation["plant_cold"] < -0.15
    assert abs(correlation["plant_mild"]) < 0.05


def test_thermal_failures_add_to_the_ai4i_rows_without_changing_them() -> None:
    # Prepare
    plain = FactoryProfile("line", machines=3)
    thermal = replace(plain, thermal_failure=3.0)

    # Execute
    without, with_thermal = (generate_site_telemetry(p, 2000, seed=9) for p in (plain, thermal))

    # Assert
    assert "TSF" not in without and with_thermal["TSF"].sum() > 100
    shared = [c for c in without.columns if c != "Machine failure"]
    pd.testing.assert_frame_equal(without[shared], with_thermal[shared])
    any_mode = with_thermal[[*FAILURE_MODES, "TSF"]].max(axis=1)
    assert (any_mode == with_thermal["Machine failure"]).all()


def test_a_scenario_name_stands_for_its_sites() -> None:
    assert DataConfig(sites="sign-flip").sites == ("plant_heat", "plant_cold", "plant_mild")
    assert DataConfig(sites=["example"]).sites == EXAMPLE_SITES
    assert DataConfig(sites=("plant_heat", "plant_mild")).sites == ("plant_heat", "plant_mild")


def test_extra_sites_still_cycle_through_the_example_plants_only() -> None:
    assert profile_for_site("site_3", 3) == replace(PRESETS["automotive_detroit"], name="site_3")
    assert profile_for_site("site_5", 5).ambient_temperature == 296.0
