"""The data flags of ``datasets describe`` (the same as ``simulate``'s) and ``--split``.

One declaration each, so ``describe`` accepts every data flag a run accepts (a test compares
the two commands) and ``--split`` reads the same in every command that takes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DATA", "SPLIT_HELP", "data_flags"]

DATA = "Data"
SPLIT_HELP = (
    "How rows go to train / val / test: time (each machine cut in time), machine (whole "
    "machines to one split), stratified (rows dealt by class) or auto (the source's own; a "
    "csv with --group-column: machine when the label is constant within every group, else time)."
)
Opt = typer.Option

ConfigFile = Annotated[Path | None, Opt("--config", help="TOML file with any of these options "
                                        "([data] table for data options).")]
Dataset = Annotated[str | None, Opt(help="synthetic, ai4i2020, cmapss or csv.",
                                    rich_help_panel=DATA)]
DataPath = Annotated[Path | None, Opt(help="File or folder of the dataset.", rich_help_panel=DATA)]
Partition = Annotated[str | None, Opt(help="natural, iid, dirichlet or quantity.",
                                      rich_help_panel=DATA)]
NumSites = Annotated[int | None, Opt(help="Sites to split the data into.", rich_help_panel=DATA)]
RowsPerSite = Annotated[int | None, Opt(help="Synthetic rows per site.", rich_help_panel=DATA)]
Sites = Annotated[str | None, Opt(help="Synthetic sites: a scenario (example, sign-flip) or "
                                  "comma-separated presets.", rich_help_panel=DATA)]
Label = Annotated[str | None, Opt(help="csv: label column.", rich_help_panel=DATA)]
SiteColumn = Annotated[str | None, Opt(help="csv: site column.", rich_help_panel=DATA)]
GroupColumn = Annotated[str | None, Opt(help="csv: machine column.", rich_help_panel=DATA)]
TimeColumn = Annotated[str | None, Opt(help="csv: time column.", rich_help_panel=DATA)]
FeatureColumns = Annotated[str | None, Opt(help="csv: comma-separated feature columns.",
                                           rich_help_panel=DATA)]
SequenceLength = Annotated[int | None, Opt(help="Time steps per window (default: the model's "
                                           "own: CNN 1 = rows, LSTM and hybrid 10).",
                                           rich_help_panel=DATA)]
Features = Annotated[str | None, Opt(help="Comma-separated subset of the source's features the "
                                     "model sees (default: all).", rich_help_panel=DATA)]
FeatureBins = Annotated[int | None, Opt(help="Up to N piecewise-linear bin columns per feature, "
                                        "edges fitted federatedly (0 = off).",
                                        rich_help_panel=DATA)]
Split = Annotated[str | None, Opt(help=SPLIT_HELP, rich_help_panel=DATA)]
Task = Annotated[str | None, Opt(help="classification (fails within the horizon; default) or "
                                 "rul (remaining useful life, regression).",
                                 rich_help_panel=DATA)]
RulCap = Annotated[int | None, Opt(help="rul: cap of the remaining-life target (default 125 "
                                   "cycles).", rich_help_panel=DATA)]
RulColumn = Annotated[str | None, Opt(help="rul, csv: the remaining-life column.",
                                      rich_help_panel=DATA)]
RunToFailure = Annotated[bool | None, Opt("--run-to-failure", help="rul, csv: each "
                                          "--group-column machine fails at its last row.",
                                          rich_help_panel=DATA)]


def data_flags(
    *, dataset: str | None, data_path: Path | None, partition: str | None,
    num_sites: int | None, rows_per_site: int | None, label: str | None,
    site_column: str | None, group_column: str | None, time_column: str | None,
    feature_columns: str | None, sequence_length: int | None, features: str | None,
    feature_bins: int | None, split: str | None, sites: str | None = None,
    task: str | None = None, rul_cap: int | None = None, rul_column: str | None = None,
    run_to_failure: bool | None = None,
) -> dict[str, object]:
    """The ``[data]`` settings the flags give (``None``: not given), as ``DataConfig`` names
    them."""
    from networkfed.cli.run_config import split_columns

    return {
        "dataset": dataset, "data_path": data_path, "partition": partition,
        "num_sites": num_sites, "rows_per_site": rows_per_site, "label_column": label,
        "site_column": site_column, "group_column": group_column, "time_column": time_column,
        "feature_columns": split_columns(feature_columns), "sequence_length": sequence_length,
        "features": split_columns(features), "feature_bins": feature_bins, "split": split,
        "sites": split_columns(sites), "task": task, "rul_cap": rul_cap,
        "rul_column": rul_column, "run_to_failure": run_to_failure,
    }
