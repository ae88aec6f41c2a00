"""Which data a run uses and how it is cut into sites; one validated, serialisable object."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DatasetName = Literal["synthetic", "ai4i2020", "cmapss", "csv"]
PartitionScheme = Literal["natural", "iid", "dirichlet", "quantity"]
SplitMode = Literal["auto", "stratified", "time", "machine"]
SplitScope = Literal["site", "pooled"]

EXAMPLE_SITES = ("automotive_detroit", "chemical_houston", "aerospace_seattle")
DEFAULT_NUM_SITES = 3
"""Sites of a partition scheme (iid, dirichlet, quantity) when ``num_sites`` is not given."""


class DataConfig(BaseModel):
    """Options of the data layer. Every field is also a CLI flag / TOML key of ``[data]``.

    Attributes are explicit and stored unchanged (scikit-learn style); validation of values
    that depend on the file (columns, rows) happens when the data is loaded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: DatasetName = "synthetic"
    data_path: Path | None = None
    partition: PartitionScheme = "natural"
    num_sites: int | None = Field(default=None, ge=1)
    dirichlet_alpha: float = Field(default=0.5, gt=0)
    quantity_alpha: float = Field(default=1.0, gt=0)
    sequence_length: int = Field(default=10, ge=1)
    """Time steps per window (1: single rows). In a federated run an unset value becomes the
    model's own default (:meth:`with_default_sequence_length`): rows for the CNN, 10 steps for
    the LSTM and the hybrid."""
    horizon: int = Field(default=30, ge=1)
    val_fraction: float = Field(default=0.15, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    normalization: Literal["federated", "site"] = "federated"
    split: SplitMode = "auto"
    """How rows go to train/val/test: ``auto`` = the source's own (synthetic: time within each
    machine; ai4i2020 and csv without machines: stratified rows; cmapss: by engine unit,
    official test files; csv with machines: by whole machine when the label is constant
    within every machine (episodes such as test cycles; at least 3 per site), else time).
    A run's ``config.toml`` holds the resolved choice."""
    split_scope: SplitScope = "site"
    """Where the split is drawn: ``site`` = within each site after partitioning; ``pooled`` =
    once over all rows, whatever the partition, so a seed's test rows are the same for every
    partition scheme and the centralized baseline sees the same training rows (benchmarks)."""
    val_truncations: int | None = Field(default=None, ge=1)
    """Validation windows like a test set of truncated machines (sources scored at each test
    machine's last window, i.e. cmapss): each validation machine is cut at this many rows drawn
    at random (seeded) and only the last window before each cut is kept. ``None`` keeps every
    validation window. The alarm threshold is chosen on validation windows, so they should
    have the test's mix of early and late windows per machine."""
    features: tuple[str, ...] | None = None
    """Which of the source's features the models see, by name (``None``: all of them, e.g.
    the ten AI4I features). Applied after the source's own fitted preprocessing, so
    C-MAPSS names the sensors it keeps."""
    feature_bins: int = Field(default=0, ge=0)
    """``0`` (default): the standardised features only. ``N >= 2``: beside each feature, up to
    N piecewise-linear bin columns with edges where a decision tree on that feature would split
    the training labels, fitted federatedly from per-class histograms
    (:mod:`networkfed.data.bins`): sharp failure rules become easy for a small network."""
    bin_min_rows: int = Field(default=50, ge=1)
    """The fewest training rows (of all sites together) one feature bin may hold."""
    # synthetic telemetry
    sites: tuple[str, ...] = EXAMPLE_SITES
    rows_per_site: int | None = Field(default=None, ge=1)
    # C-MAPSS
    subsets: tuple[str, ...] = ("FD001", "FD002", "FD003", "FD004")
    # generic CSV
    label_column: str | None = None
    feature_columns: tuple[str, ...] | None = None
    site_column: str | None = None
    group_column: str | None = None
    time_column: str | None = None

    def with_default_sequence_length(self, length: int) -> DataConfig:
        """This configuration with ``sequence_length = length``, unless it was given
        explicitly (a flag, a TOML key, an argument): how a run applies its model's default
        window without overriding a user's choice."""
        if "sequence_length" in self.model_fields_set:
            return self
        resolved = self.model_copy(update={"sequence_length": length})
        # Still a default, not the user's choice: a copy for another model (``model_dump(
        # exclude_unset=True)``, as ``apply_hparams`` does) resolves it again.
        resolved.model_fields_set.discard("sequence_length")
        return resolved

    @field_validator("feature_bins")
    @classmethod
    def _at_least_two_bins(cls, value: int) -> int:
        if value == 1:
            raise ValueError("feature_bins is 0 (off) or at least 2: one bin splits nothing")
        return value

    @field_validator("features")
    @classmethod
    def _named_features(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("features names at least one feature, each once")
        return value
