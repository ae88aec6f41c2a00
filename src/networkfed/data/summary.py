"""Plain-dict summaries of the sources and of prepared data, for ``networkfed datasets``."""

from __future__ import annotations

from typing import Any

from networkfed.data.sources import SOURCES
from networkfed.data.splits import SPLIT_NAMES
from networkfed.data.types import FederatedData

__all__ = ["describe_federated_data", "describe_sources"]


def describe_sources() -> list[dict[str, Any]]:
    """Every source with its one-line summary, default split and options."""
    return [
        {
            "name": source.name,
            "summary": source.summary,
            "default_split": source.default_split,
            "options": dict(source.options),
        }
        for source in SOURCES.values()
    ]


def describe_federated_data(data: FederatedData) -> dict[str, Any]:
    """Per-site rows, machines, failures and windows, plus the features and their statistics.

    The feature mean / SD are the federated training statistics the model inputs are
    standardised with (for C-MAPSS, after the per-condition normalisation); with bin columns,
    ``bin_splits`` are each feature's inner bin edges in its own units.
    """
    spec = data.preprocessing
    sites = []
    for site in data.sites.values():
        meta = site.metadata
        splits = {name: getattr(site, name) for name in SPLIT_NAMES}
        sites.append(
            {
                "site": site.site_id,
                "rows": meta.get("rows"),
                "machines": meta.get("machines"),
                "failures": meta.get("failures"),
                "failure_rate": meta.get("failure_rate"),
                "windows": {name: len(part) for name, part in splits.items()},
                "positive_windows": {name: part.positives for name, part in splits.items()},
            }
        )
    return {
        "dataset": spec.source,
        "fingerprint": data.fingerprint,
        "sequence_length": spec.sequence_length,
        "input_dim": spec.input_dim,
        "normalization": spec.source_options.get("normalization", "federated"),
        "split": spec.source_options.get("split"),
        "split_reason": spec.source_options.get("split_reason", ""),
        "sites": sites,
        "features": [
            {"name": name, "mean": mean, "std": std, "bin_splits": splits}
            for name, mean, std, splits in zip(
                spec.feature_names, spec.mean, spec.std, _bin_splits(data), strict=True
            )
        ],
    }


def _bin_splits(data: FederatedData) -> list[list[float]]:
    """Each feature's inner bin edges in the feature's own units (empty without bins): where
    the federated trees found the training labels change, e.g. watts for power."""
    spec = data.preprocessing
    edges = spec.bin_edges or [[] for _ in spec.feature_names]
    return [
        [edge * std + mean for edge in feature_edges[1:-1]]
        for feature_edges, mean, std in zip(edges, spec.mean, spec.std, strict=True)
    ]
