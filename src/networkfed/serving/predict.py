"""Predict failures on a new file with a run's global model, prepared exactly like training.

The file goes through ``networkfed.data.prepare_new_data`` with the round's
:class:`~networkfed.data.types.PreprocessingSpec` (same reader, validation rules, features,
standardisation statistics and windows), so a wrong column is reported the way training would
report it. Each window gets the failure probability and an alarm flag
(``probability >= threshold``, the threshold chosen on validation data during training).
When the file has the label column, the usual metrics are computed too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networkfed.data import prepare_new_data
from networkfed.federated.metrics import classification_metrics
from networkfed.federated.regression import regression_metrics
from networkfed.monitoring.files import atomic_path
from networkfed.serving.checkpoint import ServedModel, is_rul_spec

logger = logging.getLogger(__name__)

PROBABILITY, ALARM, RUL_PREDICTED = "probability", "alarm", "rul_predicted"
DEFAULT_HORIZON = 30
"""Alarm horizon of a RUL run whose source records none (``DataConfig.horizon``'s default)."""


@dataclass(frozen=True)
class Prediction:
    """Predictions for one file.

    Attributes
    ----------
    table
        The row each window ends on (the file's own columns) plus ``probability`` and
        ``alarm`` (0/1), one row per window.
    metrics
        ``classification_metrics`` at the run's threshold when the file has labels, else
        ``None``.
    """

    source: Path
    table: pd.DataFrame
    threshold: float
    round_num: int
    metrics: dict[str, float] | None

    @property
    def rows(self) -> int:
        return len(self.table)

    @property
    def alarms(self) -> int:
        return int(self.table[ALARM].sum())

    @property
    def alarm_rate(self) -> float:
        return self.alarms / self.rows if self.rows else float("nan")

    def summary(self) -> dict[str, Any]:
        """What ``networkfed predict`` prints (and ``--json`` emits)."""
        return {
            "data": str(self.source),
            "round": self.round_num,
            "rows": self.rows,
            "alarms": self.alarms,
            "alarm_rate": self.alarm_rate,
            "threshold": self.threshold,
            "metrics": self.metrics,
        }


def label_column(served: ServedModel) -> str | None:
    """The label column of the run's source (``None`` where labels are derived, e.g. C-MAPSS)."""
    name = served.preprocessing.source_options.get("label_column")
    return str(name) if name else None


def predict_file(
    served: ServedModel, path: str | Path, site_id: str | None = None,
    horizon: int | None = None,
) -> Prediction:
    """Prepare ``path`` like the run's training data and predict every window.

    ``site_id`` names the site the file comes from; it matters (and is required) only after a
    run that standardised each site with its own statistics (``normalization="site"``).
    After a RUL run each window gets ``rul_predicted`` (cycles) and an alarm when it is at
    most ``horizon`` cycles (default: the run's ``horizon``); the ``threshold`` of the
    result is then that horizon.

    Raises
    ------
    DataValidationError
        If the file is missing, unreadable, lacks the run's columns or has bad values.
    ConfigError
        If the run standardised per site and ``site_id`` is missing or not one of its sites.
    """
    x, frame = prepare_new_data(path, served.preprocessing, site_id=site_id)
    if is_rul_spec(served.preprocessing):
        return _predict_rul(served, path, x, frame, horizon)
    probability = served.predict_proba(x)
    table = frame.reset_index(drop=True).copy()
    table[PROBABILITY] = probability
    table[ALARM] = (probability >= served.threshold).astype(np.int64)
    return Prediction(
        source=Path(path),
        table=table,
        threshold=served.threshold,
        round_num=served.round_num,
        metrics=_metrics(served, frame, probability),
    )


def _metrics(
    served: ServedModel, frame: pd.DataFrame, probability: np.ndarray
) -> dict[str, float] | None:
    column = label_column(served)
    if column is None or column not in frame.columns:
        return None
    labels = pd.to_numeric(frame[column], errors="coerce").to_numpy()
    return classification_metrics(labels.astype(np.int64), probability, served.threshold)


def _predict_rul(
    served: ServedModel, path: str | Path, x: Any, frame: pd.DataFrame, horizon: int | None
) -> Prediction:
    """Remaining life per window and an alarm when it is at most ``horizon`` cycles."""
    options = served.preprocessing.source_options
    limit = float(horizon if horizon is not None else options.get("horizon", DEFAULT_HORIZON))
    predicted = served.predict_proba(x)
    table = frame.reset_index(drop=True).copy()
    table[RUL_PREDICTED] = predicted
    table[ALARM] = (predicted <= limit).astype(np.int64)
    metrics = None
    column = options.get("label_column")
    if column and column in frame.columns:  # a CSV with its remaining-life column
        true = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
        metrics = regression_metrics(np.minimum(true, float(options["rul_cap"])), predicted)
    return Prediction(source=Path(path), table=table, threshold=limit,
                      round_num=served.round_num, metrics=metrics)


def write_predictions(prediction: Prediction, path: str | Path) -> Path:
    """Write the prediction table as CSV, atomically (the old file or the whole new one)."""
    target = Path(path)
    with atomic_path(target) as temp:
        prediction.table.to_csv(temp, index=False)
    logger.info("wrote %d predictions to %s", prediction.rows, target)
    return target
