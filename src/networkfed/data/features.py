"""The default feature set for AI4I-style milling telemetry (AI4I 2020 and the built-in data).

Ten inputs, matching the design document's ``input_dim=10``: the five measurements, the
product quality, and four physics-derived signals that carry each failure mechanism as one
number a small network can threshold:

==========================  ===============================================================
feature                     why
==========================  ===============================================================
air_temperature_k           ambient conditions (heat dissipation)
process_temperature_k       process heat (heat dissipation)
rotational_speed_rpm        spindle speed (heat dissipation, power)
torque_nm                   load (power, overstrain)
tool_wear_min               tool age (tool wear, overstrain)
product_quality             L=0, M=1, H=2: sets wear per process and the overstrain limit
temperature_difference_k    process - air: what the heat-dissipation rule looks at
mechanical_power_w          torque x speed in rad/s: what the power rule looks at
torque_wear_min_nm          torque x tool wear: what the overstrain rule looks at
heat_dissipation_index      temperature difference x speed / 1000: heat removed grows with
                            both the gradient and the airflow of the spindle
==========================  ===============================================================

The generator's thresholds (8.6 K, 1380 rpm, 3500 / 9000 W, 11,000-13,000 min Nm) are not
features: the model has to learn them. The failure-mode flags (TWF, HDF, PWF, OSF, RNF) are
never inputs: they are the label, split by cause (label leakage).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["AI4I_FEATURES", "AI4I_INPUT_COLUMNS", "LEAKAGE_COLUMNS", "ai4i_features"]

AI4I_INPUT_COLUMNS = (
    "Type",
    "Air temperature [K]",
    "Process temperature [K]",
    "Rotational speed [rpm]",
    "Torque [Nm]",
    "Tool wear [min]",
)
AI4I_FEATURES = (
    "air_temperature_k",
    "process_temperature_k",
    "rotational_speed_rpm",
    "torque_nm",
    "tool_wear_min",
    "product_quality",
    "temperature_difference_k",
    "mechanical_power_w",
    "torque_wear_min_nm",
    "heat_dissipation_index",
)
LEAKAGE_COLUMNS = ("TWF", "HDF", "PWF", "OSF", "RNF")
QUALITY_CODES = {"L": 0.0, "M": 1.0, "H": 2.0}


def ai4i_features(numeric: pd.DataFrame, quality: np.ndarray) -> np.ndarray:
    """The ten default features as a ``(n, 10)`` float64 array, in :data:`AI4I_FEATURES` order.

    Parameters
    ----------
    numeric
        The five measurement columns, already validated as finite numbers.
    quality
        Product quality codes (0, 1, 2 for L, M, H).
    """
    air = numeric["Air temperature [K]"].to_numpy(np.float64)
    process = numeric["Process temperature [K]"].to_numpy(np.float64)
    speed = numeric["Rotational speed [rpm]"].to_numpy(np.float64)
    torque = numeric["Torque [Nm]"].to_numpy(np.float64)
    wear = numeric["Tool wear [min]"].to_numpy(np.float64)
    difference = process - air
    columns = (
        air,
        process,
        speed,
        torque,
        wear,
        np.asarray(quality, dtype=np.float64),
        difference,
        torque * speed * 2.0 * np.pi / 60.0,
        torque * wear,
        difference * speed / 1000.0,
    )
    return np.column_stack(columns)
