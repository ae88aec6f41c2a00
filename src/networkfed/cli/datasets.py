"""``networkfed datasets``: the data sources, and what a configuration makes of one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from networkfed.cli.errors import handle_errors
from networkfed.cli.run_config import split_columns
from networkfed.core.errors import ConfigError
from networkfed.data.config import DataConfig

console = Console()

datasets_app = typer.Typer(
    help="List the data sources, or describe what a configuration makes of one.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _sources_table(sources: list[dict[str, Any]]) -> Table:
    table = Table(title="data sources (--dataset)", title_justify="left")
    table.add_column("dataset", style="cyan")
    table.add_column("what it is")
    table.add_column("options")
    for source in sources:
        options = "\n".join(f"{k}: {v}" for k, v in source["options"].items())
        table.add_row(source["name"], source["summary"], options)
    return table


@datasets_app.callback(invoke_without_command=True)
def datasets_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the sources as JSON."),
) -> None:
    """List the data sources and their options (``describe`` shows prepared data)."""
    if ctx.invoked_subcommand is not None:
        return
    from networkfed.data.summary import describe_sources

    sources = describe_sources()
    if as_json:
        typer.echo(json.dumps(sources, indent=2))
        return
    console.print(_sources_table(sources))
    console.print("details of one: networkfed datasets describe --dataset NAME", highlight=False)


def _data_config(**options: Any) -> DataConfig:
    """A DataConfig from flags; a bad value becomes a ConfigError naming the flag."""
    given = {key: value for key, value in options.items() if value is not None}
    try:
        return DataConfig(**given)
    except ValidationError as error:
        first = error.errors()[0]
        option = str(first["loc"][0]) if first["loc"] else "data"
        raise ConfigError(option, given.get(option), f"a valid value ({first['msg']})") from None


def _sites_table(summary: dict[str, Any]) -> Table:
    title = (
        f"{summary['dataset']}: {len(summary['sites'])} sites, windows of "
        f"{summary['sequence_length']} steps x {summary['input_dim']} features"
    )
    table = Table(title=title, title_justify="left")
    for column in (
        "site",
        "rows",
        "machines",
        "failures",
        "failure rate",
        "train / val / test windows",
        "failure windows (train/val/test)",
    ):
        table.add_column(
            column,
            style="cyan" if column == "site" else None,
            justify="left" if column == "site" else "right",
        )
    for site in summary["sites"]:
        windows, positives = site["windows"], site["positive_windows"]
        table.add_row(
            site["site"],
            f"{site['rows']:,}",
            str(site["machines"]),
            f"{site['failures']:,}",
            f"{site['failure_rate']:.2%}",
            " / ".join(f"{windows[s]:,}" for s in ("train", "val", "test")),
            " / ".join(f"{positives[s]:,}" for s in ("train", "val", "test")),
        )
    return table


def _features_table(summary: dict[str, Any]) -> Table:
    title = f"features (standardised with {summary['normalization']} training statistics)"
    table = Table(title=title, title_justify="left")
    table.add_column("feature", style="cyan")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    binned = any(feature["bin_splits"] for feature in summary["features"])
    if binned:
        table.add_column("bin splits (feature units)")
    for feature in summary["features"]:
        row = [feature["name"], f"{feature['mean']:.4g}", f"{feature['std']:.4g}"]
        if binned:
            row.append(", ".join(f"{split:.5g}" for split in feature["bin_splits"]) or "-")
        table.add_row(*row)
    return table


@datasets_app.command("describe")
@handle_errors
def describe_command(
    dataset: str = typer.Option(
        "synthetic", "--dataset", help="synthetic, ai4i2020, cmapss or csv."
    ),
    data_path: Annotated[
        Path | None, typer.Option("--data-path", help="File or folder of the data.")
    ] = None,
    partition: str = typer.Option(
        "natural", "--partition", help="natural, iid, dirichlet, quantity."
    ),
    num_sites: int | None = typer.Option(None, "--num-sites", help="Sites (default: natural)."),
    sequence_length: int | None = typer.Option(
        None, "--sequence-length",
        help="Steps per window (default 10; single rows where the split is stratified).",
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of every random step."),
    label: str | None = typer.Option(None, "--label", help="csv: the label column."),
    site_column: str | None = typer.Option(None, "--site-column", help="csv: site column."),
    group_column: str | None = typer.Option(None, "--group-column", help="csv: machine column."),
    time_column: str | None = typer.Option(None, "--time-column", help="csv: time column."),
    features: str | None = typer.Option(
        None, "--features", help="Comma-separated subset of the source's features."
    ),
    feature_bins: int = typer.Option(
        0, "--feature-bins", help="Bin columns per feature (0 = off); shows the splits."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the description as JSON."),
) -> None:
    """Load a dataset as a run would and show each site's rows, machines, failure rate,
    windows and the feature statistics (with --feature-bins, where the bins split)."""
    from networkfed.data import load_federated_data
    from networkfed.data.summary import describe_federated_data

    config = _data_config(
        dataset=dataset,
        data_path=data_path,
        partition=partition,
        num_sites=num_sites,
        sequence_length=sequence_length,
        label_column=label,
        site_column=site_column,
        group_column=group_column,
        time_column=time_column,
        features=split_columns(features),
        feature_bins=feature_bins,
    )
    summary = describe_federated_data(load_federated_data(config, seed))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console.print(_sites_table(summary))
    console.print(_features_table(summary))
