"""The built-in telemetry as a source: one :class:`FactoryProfile` per site, rows generated."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from networkfed.data.config import DataConfig
from networkfed.data.features import AI4I_FEATURES, QUALITY_CODES, ai4i_features
from networkfed.data.sources.ai4i import LABEL, read_ai4i_layout
from networkfed.data.sources.base import DataSource, SourceTable, fingerprint_of
from networkfed.data.synthetic import (
    AI4I_NUMERIC_COLUMNS,
    FactoryProfile,
    generate_site_telemetry,
    profile_for_site,
)

__all__ = ["SyntheticSource", "site_profiles"]

GENERATOR_VERSION = 1


def site_profiles(config: DataConfig) -> list[FactoryProfile]:
    """The profiles of the sites to generate.

    ``config.sites`` names them; under the natural partition ``num_sites`` may trim that list
    or extend it with ``site_<i>`` sites that cycle through the presets.
    """
    names = list(config.sites)
    if config.partition == "natural" and config.num_sites is not None:
        extra = [f"site_{i}" for i in range(len(names), config.num_sites)]
        names = (names + extra)[: config.num_sites]
    return [profile_for_site(name, index) for index, name in enumerate(names)]


def _table_from_frame(frame: pd.DataFrame, site: str) -> SourceTable:
    quality = frame["Type"].map(QUALITY_CODES).to_numpy(np.float64)
    values = ai4i_features(frame[list(AI4I_NUMERIC_COLUMNS)], quality)
    return SourceTable(
        values=values,
        feature_names=list(AI4I_FEATURES),
        labels=frame[LABEL].to_numpy(np.int64),
        machines=frame["machine_id"].to_numpy(dtype=object),
        times=frame["step"].to_numpy(np.float64),
        natural_sites=np.full(len(frame), site, dtype=object),
    )


class SyntheticSource(DataSource):
    """AI4I-rule telemetry generated per machine, three non-IID example sites by default."""

    name: ClassVar[str] = "synthetic"
    summary: ClassVar[str] = (
        "built-in telemetry from the AI4I 2020 generator rules, per machine in time order; "
        "sites = FactoryProfile presets; split by time within each machine"
    )
    options: ClassVar[dict[str, str]] = {
        "sites": "automotive_detroit, chemical_houston, aerospace_seattle (presets)",
        "rows_per_site": "rows per site (default: ~4,500-5,900 by preset machine count)",
        "partition": "natural (one site per profile) | iid | dirichlet | quantity (by machine)",
    }
    default_split: ClassVar[str] = "time"

    def load(self, config: DataConfig, seed: int) -> SourceTable:
        tables = []
        profiles = site_profiles(config)
        smallest = min(config.val_fraction, config.test_fraction)
        min_rows = int(np.ceil(config.sequence_length / smallest)) + config.sequence_length
        for profile in profiles:
            rows = config.rows_per_site or profile.default_rows
            frame = generate_site_telemetry(profile, rows, seed, min_rows_per_machine=min_rows)
            tables.append(_table_from_frame(frame, profile.name))
        settings = {
            "dataset": self.name,
            "generator_version": GENERATOR_VERSION,
            "profiles": [p.__dict__ for p in profiles],
            "rows_per_site": config.rows_per_site,
            "seed": seed,
        }
        return SourceTable(
            values=np.concatenate([t.values for t in tables]),
            feature_names=list(AI4I_FEATURES),
            labels=np.concatenate([t.labels for t in tables]),
            machines=np.concatenate([t.machines for t in tables]),
            times=np.concatenate([t.times for t in tables]),
            natural_sites=np.concatenate([t.natural_sites for t in tables]),
            options={
                "dataset": self.name,
                "label_column": LABEL,
                "group_column": "machine_id",
                "time_column": "step",
            },
            fingerprint=fingerprint_of([], settings),
        )

    def read_new(self, path: Path, options: dict[str, Any]) -> SourceTable:
        """New telemetry in the AI4I layout, optionally with ``machine_id`` and ``step``."""
        return read_ai4i_layout(path, require_label=False, time_column="step")
