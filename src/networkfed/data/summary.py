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
    standardised with (for C-MAPSS, after the per-condition normalisation).
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
        "sites": sites,
        "features": [
            {"name": name, "mean": mean, "std": std}
            for name, mean, std in zip(spec.feature_names, spec.mean, spec.std, strict=True)
        ],
    }
