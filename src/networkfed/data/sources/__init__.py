"""The data sources by name: one dict and a look-up that lists the valid names."""

from __future__ import annotations

from networkfed.core.errors import ConfigError
from networkfed.data.sources.ai4i import AI4ISource
from networkfed.data.sources.base import DataSource, SourceTable
from networkfed.data.sources.cmapss import CMAPSSSource
from networkfed.data.sources.csv_source import CSVSource
from networkfed.data.sources.synthetic_source import SyntheticSource

__all__ = ["SOURCES", "DataSource", "SourceTable", "get_source"]

SOURCES: dict[str, DataSource] = {
    source.name: source for source in (SyntheticSource(), AI4ISource(), CMAPSSSource(), CSVSource())
}


def get_source(name: str) -> DataSource:
    """The source called ``name``; an unknown name lists the valid ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigError("dataset", name, f"one of {', '.join(SOURCES)}") from None
