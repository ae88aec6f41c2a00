"""``--mlflow`` on the command line: checked before any data loads or folder is written."""

from __future__ import annotations

import os

__all__ = ["MLFLOW_ENV_DEFAULTS", "prepare_tracking"]

MLFLOW_ENV_DEFAULTS = {
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
"""MLflow's defaults retry an unreachable server for about four minutes (measured: 4 min 12 s
before the error) and print INFO lines on store creation; these give up after about 10 s
and stay quiet. A variable the user set wins."""


def prepare_tracking(store: str) -> None:
    """MLflow is installed (else exit 2 naming the extra) and ``store`` answers (else exit 2
    naming it), with :data:`MLFLOW_ENV_DEFAULTS` for whatever the user did not set."""
    from networkfed.monitoring.tracking import open_store, require_mlflow, tracking_store

    require_mlflow()
    for name, value in MLFLOW_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    open_store(tracking_store(store))
