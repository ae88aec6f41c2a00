"""NetworkFed: federated predictive maintenance across factory sites.

Sites keep their sensor data at home, train failure predictors locally and share only model
updates; a server aggregates them round by round. See the README for the journeys.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("networkfed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
