"""Write a run's test rows back out as files, one per site, in the run's own file layout.

Why: ``networkfed predict`` must reproduce a run's reported test metrics when fed the run's
test rows, and a user checking a model (or an auditor) needs those rows as plain files. The
rows are found by replaying the data layer's own steps on the run's configuration and seed
(``order_rows`` -> ``assign_sites`` -> ``assign_splits``), with each row's position in the
source file carried along, and copied verbatim from the file (all columns, labels included).

Each site gets its own file because windows never cross sites during training: one site's
test rows, prepared by ``prepare_new_data``, give exactly that site's test windows; pooling
the sites' predictions gives the run's overall test metrics.

Supported for file-based sources (``ai4i2020``, ``csv``); built-in synthetic telemetry has no
file, and C-MAPSS test data already are files (``test_FD00x.txt`` + ``RUL_FD00x.txt``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from networkfed.core.errors import ConfigError, RunFolderError
from networkfed.data.config import DataConfig
from networkfed.data.pipeline import assign_sites, assign_splits, order_rows, resolve_split
from networkfed.data.sources import get_source
from networkfed.data.splits import TEST
from networkfed.data.validation import read_table
from networkfed.monitoring.files import atomic_path
from networkfed.monitoring.run_folder import CONFIG_FILE, read_config

logger = logging.getLogger(__name__)

FILE_SOURCES = ("ai4i2020", "csv")
ROW_KEY = "_source_row"


def run_data_settings(run_dir: str | Path) -> tuple[DataConfig, int]:
    """The run's ``DataConfig`` and seed, from its ``config.toml``."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise RunFolderError(folder, "", "does not exist or is not a folder")
    config = read_config(folder)
    if config is None:
        raise RunFolderError(folder, CONFIG_FILE, "is missing (is this a NetworkFed run folder?)")
    try:
        return DataConfig.model_validate(config.get("data", {})), int(config.get("seed", 42))
    except ValueError as error:
        problem = f"has an invalid [data] table ({error})"
        raise RunFolderError(folder, CONFIG_FILE, problem) from None


def test_rows_by_site(data: DataConfig, seed: int) -> tuple[Path, dict[str, np.ndarray]]:
    """The source file and, per site, the file positions (0-based) of its test rows.

    Raises
    ------
    ConfigError
        If the run's source is not one of :data:`FILE_SOURCES`.
    """
    if data.dataset not in FILE_SOURCES:
        expected = f"a run on a file ({', '.join(FILE_SOURCES)}); this run used {data.dataset}"
        raise ConfigError("run", data.dataset, expected)
    source = get_source(data.dataset)
    table = source.load(data, seed)
    table = replace(table, extras={**table.extras, ROW_KEY: np.arange(len(table))})
    table = order_rows(table)
    split_mode, _ = resolve_split(data, source, table)
    sites, site_ids = assign_sites(table, data, split_mode, seed)
    split = assign_splits(table, sites, data, split_mode, seed)
    positions = table.extras[ROW_KEY]
    rows = {
        site_id: np.sort(positions[(sites == code) & (split == TEST)])
        for code, site_id in enumerate(site_ids)
    }
    if table.path is None:
        raise ConfigError("run", data.dataset, "a source that names its file")
    return Path(table.path), rows


def write_test_rows(run_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write ``out_dir/<site_id>.csv`` with each site's test rows, as they are in the file.

    Returns the files by site id. The run's data file must still be where the run read it.
    """
    data, seed = run_data_settings(run_dir)
    path, rows = test_rows_by_site(data, seed)
    frame = read_table(path)
    frame.columns = [str(column).strip() for column in frame.columns]
    written: dict[str, Path] = {}
    for site_id, positions in rows.items():
        target = Path(out_dir) / f"{site_id}.csv"
        with atomic_path(target) as temp:
            frame.iloc[positions].to_csv(temp, index=False)
        written[site_id] = target
        logger.info("wrote %d test rows of site %s to %s", positions.size, site_id, target)
    return written

