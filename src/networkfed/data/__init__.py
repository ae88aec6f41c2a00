"""The data layer: sources, validation, partitions, federated standardisation, windows.

Public entry points: :func:`load_federated_data` (a run's per-site tensors) and
:func:`prepare_new_data` (a new file prepared like the training data, for ``predict``).
"""

from networkfed.data.config import EXAMPLE_SITES, DataConfig
from networkfed.data.loading import load_federated_data, prepare_new_data
from networkfed.data.synthetic import PRESETS, FactoryProfile, generate_site_telemetry
from networkfed.data.types import FederatedData, PreprocessingSpec, SiteData, SplitTensors

__all__ = [
    "EXAMPLE_SITES",
    "PRESETS",
    "DataConfig",
    "FactoryProfile",
    "FederatedData",
    "PreprocessingSpec",
    "SiteData",
    "SplitTensors",
    "generate_site_telemetry",
    "load_federated_data",
    "prepare_new_data",
]
