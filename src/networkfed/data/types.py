"""The shapes the data layer hands to everything downstream.

One :class:`FederatedData` holds every site's train / validation / test tensors plus what is
needed to prepare new data the same way (:class:`PreprocessingSpec`). Downstream code (local
training, evaluation, Flower clients) reads these and never touches raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from networkfed.data.bins import encoded_width


@dataclass(frozen=True)
class SplitTensors:
    """One split of one site.

    Attributes
    ----------
    x
        ``float32`` windows of shape ``(n, sequence_length, n_features)``, already standardised.
        Tabular data uses ``sequence_length == 1`` and keeps the 3-D shape, so every consumer
        handles one rank.
    y
        ``int64`` labels of shape ``(n,)``: the label of each window's last step.
    machine_ids
        Which machine (engine, tool, unit) each window comes from; used to prove no window
        crosses a split and to trace predictions back.
    """

    x: Tensor
    y: Tensor
    machine_ids: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def positives(self) -> int:
        """Number of failure windows (label 1)."""
        return int(self.y.sum().item())


@dataclass(frozen=True)
class SiteData:
    """Everything one site trains and is evaluated on; never leaves the site in a real run."""

    site_id: str
    train: SplitTensors
    val: SplitTensors
    test: SplitTensors
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def num_train_examples(self) -> int:
        return len(self.train)


@dataclass(frozen=True)
class PreprocessingSpec:
    """How raw rows become model inputs; saved with every checkpoint so a run folder suffices.

    ``mean``/``std`` are the (federated) standardisation statistics, one per feature, in the
    order of ``feature_names``. ``bin_edges`` (one list per feature, empty for a feature
    without bins; no list at all when ``DataConfig.feature_bins`` is off) are the edges of the
    piecewise-linear bin columns that follow the standardised features
    (:func:`networkfed.data.bins.encode_bins`). ``source_options`` holds what the source
    needs to read a new file the same way (label column, group/time columns, horizon, ...).
    Serialises to JSON through :meth:`to_dict` / :meth:`from_dict`.
    """

    source: str
    feature_names: list[str]
    sequence_length: int
    mean: list[float]
    std: list[float]
    source_options: dict[str, Any] = field(default_factory=dict)
    bin_edges: list[list[float]] = field(default_factory=list)

    @property
    def input_dim(self) -> int:
        """Model inputs per time step: the features, then their bin columns."""
        return len(self.feature_names) + encoded_width(self.bin_edges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "feature_names": list(self.feature_names),
            "sequence_length": self.sequence_length,
            "mean": list(self.mean),
            "std": list(self.std),
            "source_options": dict(self.source_options),
            "bin_edges": [list(edges) for edges in self.bin_edges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessingSpec:
        return cls(
            source=data["source"],
            feature_names=list(data["feature_names"]),
            sequence_length=int(data["sequence_length"]),
            mean=[float(v) for v in data["mean"]],
            std=[float(v) for v in data["std"]],
            source_options=dict(data.get("source_options", {})),
            bin_edges=[[float(v) for v in edges] for edges in data.get("bin_edges", [])],
        )


@dataclass(frozen=True)
class FederatedData:
    """All sites of one experiment, in a stable order, with the shared preprocessing."""

    sites: dict[str, SiteData]
    preprocessing: PreprocessingSpec
    fingerprint: str
    """sha256 over the source files (or generator settings) and options: goes in manifest.json."""
    num_classes: int = 2
    """2 for failure classification; 1 for a regression target (``task = "rul"``): ``y`` then
    holds float32 remaining life and the models get one output."""

    @property
    def site_ids(self) -> list[str]:
        return list(self.sites)

    @property
    def input_dim(self) -> int:
        return self.preprocessing.input_dim

    @property
    def sequence_length(self) -> int:
        return self.preprocessing.sequence_length

    @property
    def feature_names(self) -> list[str]:
        return list(self.preprocessing.feature_names)
