"""The source-independent steps: sites, splits, federated statistics, windows.

``load_federated_data`` runs them in this order:

1. order rows by machine and time (windows and time splits rely on it);
2. assign every row to a site (a partition of rows or of machines);
3. assign every row to train / validation / test, site by site;
4. fit source preprocessing and standardisation on the training rows, site by site, combined
   at the server from sufficient statistics only;
5. standardise and cut windows inside one (site, split, machine) run.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from dataclasses import replace

import numpy as np
import pandas as pd

from networkfed.core.errors import ConfigError
from networkfed.data.config import DEFAULT_NUM_SITES, DataConfig
from networkfed.data.partition import (
    dirichlet_partition,
    iid_partition,
    natural_partition,
    quantity_skew_partition,
)
from networkfed.data.sources.base import DataSource, SourceTable
from networkfed.data.splits import (
    TEST,
    groups_across_splits,
    label_constant_within_groups,
    machine_split,
    stratified_split,
    time_split,
)

__all__ = [
    "assign_sites",
    "assign_splits",
    "derive_seed",
    "fit_window_to_split",
    "order_rows",
    "resolve_split",
    "warn_group_leak",
    "with_split",
]

logger = logging.getLogger(__name__)

POOLED_ROWS_FACTOR = 8


def derive_seed(seed: int, *labels: object) -> int:
    """An independent, reproducible seed for one named step (and site) of the pipeline."""
    salt = zlib.crc32("/".join(str(label) for label in labels).encode())
    return int(np.random.SeedSequence([seed, salt]).generate_state(1)[0])


def order_rows(table: SourceTable) -> SourceTable:
    """Rows grouped by machine (in order of first appearance), in time order within each."""
    codes, _ = pd.factorize(pd.Series(table.machines), sort=False)
    order = np.lexsort((np.arange(len(table)), table.times, codes))
    return table.take(order)


def resolve_split(config: DataConfig, source: DataSource, table: SourceTable) -> tuple[str, str]:
    """The split this data gets (stratified, time or machine) and why: ``auto`` means the
    source's own choice for this table (:meth:`DataSource.auto_split`)."""
    if config.split != "auto":
        return config.split, "as --split asked"
    mode, reason = source.auto_split(config, table)
    logger.info("split auto -> %s: %s", mode, reason)
    return mode, reason


def with_split(table: SourceTable, mode: str, reason: str, sequence_length: int) -> SourceTable:
    """``table`` with the resolved split and window in its fingerprint and options.

    Sources leave both out of their fingerprint: ``auto`` and the split it resolved to, or a
    default window and the single rows a stratified split reads it as
    (:func:`fit_window_to_split`), give the same data, hence the same fingerprint, so a run
    resumed from its ``config.toml`` (which holds the resolved values) finds its data again.
    The run's preprocessing records which split it was and why.
    """
    resolved = f"{table.fingerprint}/split={mode}/window={sequence_length}"
    fingerprint = hashlib.sha256(resolved.encode()).hexdigest()
    options = {**table.options, "split": mode, "split_reason": reason}
    return replace(table, fingerprint=fingerprint, options=options)


def warn_group_leak(table: SourceTable, split: np.ndarray, mode: str) -> None:
    """Warn when a time split leaves the same group in two splits although the label is
    constant within every group: the test then scores episodes the model trained on."""
    if mode != "time" or table.labels is None or pd.unique(table.machines).size < 2:
        return
    if not label_constant_within_groups(table.machines, table.labels):
        return
    shared = groups_across_splits(table.machines, split)
    if shared:
        logger.warning(
            "the time split put %d of %d groups (machines) in more than one of train, val and "
            "test, and the label is constant within every group: the test scores episodes "
            "the model trained on; use --split machine (whole groups to one split)",
            shared, pd.unique(table.machines).size,
        )


WINDOWS_NEED_CONSECUTIVE_ROWS = (
    "1 with the stratified split (ai4i2020's and a csv without --group-column's own): it deals "
    "single rows to train / validation / test at random, so a window of one split's rows would "
    "join rows that are not consecutive and put the neighbours of test rows in training; for "
    "windows of consecutive rows use split 'time' (--split time: each machine's rows, or the "
    "file's one stream per site, cut in time order)"
)


def fit_window_to_split(config: DataConfig, split_mode: str) -> DataConfig:
    """``config`` with a window its split can cut from consecutive rows.

    A stratified split deals rows one by one, so the rows of one split are not consecutive:
    windows of them would span several times more time in validation and test than in
    training, and the rows around each test row would be training rows. A default window
    (the model's own, or ``DataConfig``'s 10) becomes single rows there; a window the user
    set is refused (:class:`ConfigError`, exit code 2).
    """
    if split_mode != "stratified" or config.sequence_length == 1:
        return config
    if "sequence_length" in config.model_fields_set:
        raise ConfigError("sequence_length", config.sequence_length,
                          WINDOWS_NEED_CONSECUTIVE_ROWS)
    logger.info("%s is split stratified by row: windows of single rows (sequence_length=1) "
                "instead of the default %d", config.dataset, config.sequence_length)
    resolved = config.model_copy(update={"sequence_length": 1})
    resolved.model_fields_set.discard("sequence_length")  # still a default, not the user's
    return resolved


def _machine_labels(table: SourceTable, machine_codes: np.ndarray) -> np.ndarray:
    """1 for machines whose failure rate is above the median: the label skew of machines."""
    labels = table.labels if table.labels is not None else np.zeros(len(table), np.int64)
    counts = np.bincount(machine_codes)
    rates = np.bincount(machine_codes, weights=labels) / np.maximum(counts, 1)
    return (rates > np.median(rates)).astype(np.int64)


def _partition_items(
    labels: np.ndarray, config: DataConfig, num_sites: int, seed: int, min_size: int
) -> np.ndarray:
    if config.partition == "iid":
        return iid_partition(labels.size, num_sites, seed)
    if config.partition == "dirichlet":
        return dirichlet_partition(
            labels, num_sites, config.dirichlet_alpha, seed, min_size=min_size
        )
    return quantity_skew_partition(
        labels.size, num_sites, config.quantity_alpha, seed, min_size=min_size
    )


def assign_sites(
    table: SourceTable, config: DataConfig, split_mode: str, seed: int
) -> tuple[np.ndarray, list[str]]:
    """Site index per row and the site ids, by the configured partition scheme.

    Rows are the items for the stratified (tabular) split; otherwise whole machines are, so a
    machine's windows stay at one site. A source's fixed test rows are partitioned on their
    own so every site gets some.
    """
    if config.partition == "natural":
        return _natural_sites(table, config)
    num_sites = config.num_sites or DEFAULT_NUM_SITES
    by_row = split_mode == "stratified"
    sites = np.zeros(len(table), dtype=np.int64)
    fixed = table.fixed_split if table.fixed_split is not None else np.full(len(table), -1)
    for part, rows in enumerate((np.flatnonzero(fixed != TEST), np.flatnonzero(fixed == TEST))):
        if rows.size == 0:
            continue
        part_seed = derive_seed(seed, "partition", part)
        if by_row:
            labels = table.labels[rows] if table.labels is not None else np.zeros(rows.size)
            min_size = _min_rows(config)
            sites[rows] = _partition_items(labels, config, num_sites, part_seed, min_size)
        else:
            codes, _ = pd.factorize(pd.Series(table.machines[rows]), sort=False)
            min_size = _min_machines(split_mode, part, has_fixed_test=bool((fixed == TEST).any()))
            _check_enough_machines(int(codes.max()) + 1, num_sites * min_size, config, split_mode)
            per_machine = _partition_items(
                _machine_labels(table.take(rows), codes), config, num_sites, part_seed, min_size
            )
            sites[rows] = per_machine[codes]
    return sites, [f"site_{i}" for i in range(num_sites)]


def _check_enough_machines(
    machines: int, needed: int, config: DataConfig, split_mode: str
) -> None:
    """Refuse a partition of whole machines into more sites than there are machines.

    The partition functions' own check counts "items"; here an item is a machine, and the
    remedy (deal rows instead) is only visible at this level.
    """
    if machines >= needed:
        return
    raise ConfigError(
        "num_sites", config.num_sites or DEFAULT_NUM_SITES,
        f"fewer sites: --split {split_mode} deals whole machines to the sites and "
        f"{config.dataset} has {machines} machine(s) where {needed} are needed; deal rows "
        f"with --split stratified, or use --partition natural",
    )


def _min_machines(split_mode: str, part: int, *, has_fixed_test: bool) -> int:
    """Machines a site needs: one per split it cuts by machine, one for a time split."""
    if split_mode != "machine" or part == 1:
        return 1
    return 2 if has_fixed_test else 3


def _min_rows(config: DataConfig) -> int:
    """Rows a site needs so each stratified split can hold at least one window.

    A pooled split deals a site's rows to the splits at random rather than by count, so the
    site needs enough rows that an empty split is very unlikely (under 1 in 5,000).
    """
    smallest = min(config.val_fraction, config.test_fraction)
    factor = POOLED_ROWS_FACTOR if config.split_scope == "pooled" else 1
    return int(np.ceil(factor * config.sequence_length / smallest)) + config.sequence_length


def _natural_sites(table: SourceTable, config: DataConfig) -> tuple[np.ndarray, list[str]]:
    if table.natural_sites is None:
        raise ConfigError(
            "partition",
            "natural",
            "iid, dirichlet or quantity (this data has no natural sites; name a --site-column)",
        )
    codes, names = natural_partition(table.natural_sites)
    fixed_count = config.dataset != "synthetic"  # synthetic sites are generated to order
    if fixed_count and config.num_sites is not None and config.num_sites != len(names):
        raise ConfigError(
            "num_sites",
            config.num_sites,
            f"{len(names)} (the natural sites: {', '.join(names)}), or a partition scheme "
            "iid, dirichlet or quantity for another number of sites",
        )
    return codes, names


def _split_groups(
    sites: np.ndarray, split: np.ndarray, config: DataConfig
) -> list[tuple[object, np.ndarray]]:
    """The groups of undecided rows split together, with the key that seeds each group."""
    undecided = split < 0
    if config.split_scope == "pooled":
        return [("pooled", np.flatnonzero(undecided))]
    return [(int(site), np.flatnonzero((sites == site) & undecided)) for site in np.unique(sites)]


def assign_splits(
    table: SourceTable, sites: np.ndarray, config: DataConfig, split_mode: str, seed: int
) -> np.ndarray:
    """Split code per row, decided site by site or over all rows (``config.split_scope``).

    Rows must be ordered by :func:`order_rows`.
    """
    split = (
        table.fixed_split.copy()
        if table.fixed_split is not None
        else np.full(len(table), -1, dtype=np.int64)
    )
    has_fixed_test = bool((split == TEST).any())
    for key, rows in _split_groups(sites, split, config):
        if rows.size == 0:
            continue
        site_seed = derive_seed(seed, "split", key)
        val, test = config.val_fraction, config.test_fraction
        if split_mode == "stratified":
            labels = table.labels[rows] if table.labels is not None else np.zeros(rows.size)
            split[rows] = stratified_split(labels, val, test, site_seed)
        elif split_mode == "time":
            split[rows] = time_split(table.machines[rows], val, test)
        else:
            split[rows] = machine_split(
                table.machines[rows], val, test, site_seed, with_test=not has_fixed_test
            )
    return split
