"""Which data a run uses and how it is cut into sites; one validated, serialisable object."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DatasetName = Literal["synthetic", "ai4i2020", "cmapss", "csv"]
PartitionScheme = Literal["natural", "iid", "dirichlet", "quantity"]
SplitMode = Literal["auto", "stratified", "time", "machine"]
SplitScope = Literal["site", "pooled"]
TaskName = Literal["classification", "rul"]
DEFAULT_RUL_CAP = 125
"""The usual piecewise-linear C-MAPSS target: remaining life counts down from 125 cycles."""

EXAMPLE_SITES = ("automotive_detroit", "chemical_houston", "aerospace_seattle")
SCENARIOS: dict[str, tuple[str, ...]] = {
    "example": EXAMPLE_SITES,
    "sign-flip": ("plant_heat", "plant_cold", "plant_mild"),
}
"""Named sets of synthetic presets; ``sites`` may be one of these names. ``example``: the
three non-IID example plants; ``sign-flip``: two plants where air temperature's relation to
failure has opposite signs, and a third without that failure mode (sites disagree: see
:mod:`networkfed.data.synthetic`)."""
DEFAULT_NUM_SITES = 3
"""Sites of a partition scheme (iid, dirichlet, quantity) when ``num_sites`` is not given."""


class DataConfig(BaseModel):
    """Options of the data layer. Every field is also a CLI flag / TOML key of ``[data]``.

    Attributes are explicit and stored unchanged (scikit-learn style); validation of values
    that depend on the file (columns, rows) happens when the data is loaded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: DatasetName = "synthetic"
    task: TaskName = "classification"
    """``classification``: does the machine fail within ``horizon`` (a 0/1 label per window).
    ``rul``: how many cycles are left (regression on the remaining useful life, capped at
    ``rul_cap``; see :mod:`networkfed.data.rul`). Needs a source of remaining life: C-MAPSS,
    or a CSV with ``rul_column`` or ``run_to_failure``."""
    rul_cap: int = Field(default=DEFAULT_RUL_CAP, ge=1)
    """Remaining life above this counts as this (``task = "rul"``): early in a run nothing
    tells 200 cycles from 300, so the literature caps the target (piecewise linear)."""
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
    rul_column: str | None = None
    """CSV, ``task = "rul"``: the column holding each row's remaining life (cycles, >= 0)."""
    run_to_failure: bool = False
    """CSV, ``task = "rul"``: every group (machine) runs until it fails at its last row, so a
    row's remaining life is the group's last time minus the row's time (rows without
    ``time_column``)."""

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

    @model_validator(mode="after")
    def _task_options(self) -> DataConfig:
        """RUL options only with ``task = "rul"``; classification-only ones not with it."""
        # values, not "was it set": a run's config.toml holds every field, defaults included
        rul_only = [name for name in ("rul_column", "run_to_failure") if getattr(self, name)]
        if self.rul_cap != DEFAULT_RUL_CAP:
            rul_only.append("rul_cap")
        if self.task != "rul" and rul_only:
            raise ValueError(f"{rul_only[0]} needs task = 'rul' (--task rul)")
        if self.task == "rul":
            if self.feature_bins:
                raise ValueError("feature_bins is a classification option (bins split the "
                                 "failure labels): leave it 0 with task = 'rul'")
            if self.rul_column and self.run_to_failure:
                raise ValueError("give rul_column or run_to_failure, not both")
            if self.label_column:
                raise ValueError("label_column is a classification option: with task = 'rul' "
                                 "name the remaining-life column with rul_column")
        return self

    @field_validator("sites", mode="before")
    @classmethod
    def _scenario_sites(cls, value: object) -> object:
        """A scenario name (``"sign-flip"``, alone or as the only item) stands for its sites."""
        if isinstance(value, str):
            value = (value,)
        if isinstance(value, list | tuple) and len(value) == 1 and value[0] in SCENARIOS:
            return SCENARIOS[value[0]]
        return value

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
