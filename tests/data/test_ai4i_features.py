"""The default AI4I feature set: ten inputs, physics-derived, no failure-mode leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from networkfed.data.features import AI4I_FEATURES, LEAKAGE_COLUMNS, ai4i_features


def test_ten_features_and_no_leakage() -> None:
    assert len(AI4I_FEATURES) == 10
    assert not set(AI4I_FEATURES) & set(LEAKAGE_COLUMNS)


def test_derived_features_follow_the_physics() -> None:
    # Prepare
    numeric = pd.DataFrame(
        {
            "Air temperature [K]": [300.0],
            "Process temperature [K]": [309.0],
            "Rotational speed [rpm]": [1500.0],
            "Torque [Nm]": [40.0],
            "Tool wear [min]": [100.0],
        }
    )
    # Execute
    row = dict(zip(AI4I_FEATURES, ai4i_features(numeric, np.array([2.0]))[0], strict=True))
    # Assert
    assert row["temperature_difference_k"] == 9.0
    assert np.isclose(row["mechanical_power_w"], 40.0 * 1500.0 * 2 * np.pi / 60)
    assert row["torque_wear_min_nm"] == 4000.0
    assert np.isclose(row["heat_dissipation_index"], 9.0 * 1.5)
    assert row["product_quality"] == 2.0
