"""``networkfed datasets``: the data sources, and what a configuration makes of one."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from networkfed.cli import data_options as options
from networkfed.cli.console import make_console
from networkfed.cli.errors import handle_errors, show_warnings
from networkfed.cli.run_config import build_run_config, read_config_file
from networkfed.cli.typer_app import App

console = make_console()

datasets_app = App(
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
    table = Table(title=title, title_justify="left", min_width=len(title))
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
    config_file: options.ConfigFile = None,
    dataset: options.Dataset = None,
    data_path: options.DataPath = None,
    partition: options.Partition = None,
    num_sites: options.NumSites = None,
    rows_per_site: options.RowsPerSite = None,
    sites: options.Sites = None,
    label: options.Label = None,
    site_column: options.SiteColumn = None,
    group_column: options.GroupColumn = None,
    time_column: options.TimeColumn = None,
    feature_columns: options.FeatureColumns = None,
    sequence_length: options.SequenceLength = None,
    features: options.Features = None,
    feature_bins: options.FeatureBins = None,
    split: options.Split = None,
    task: options.Task = None,
    rul_cap: options.RulCap = None,
    rul_column: options.RulColumn = None,
    run_to_failure: options.RunToFailure = None,
    model: Annotated[str | None, typer.Option(help="cnn, lstm or hybrid: the run whose data "
                                              "this shows (its default window).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random step.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the description as "
                                          "JSON.")] = False,
) -> None:
    """Load a dataset exactly as `networkfed simulate` with the same flags would, and show
    each site's rows, machines, failure rate and windows, the split, and the feature
    statistics (with --feature-bins, where the bins split)."""
    from networkfed.data import load_federated_data
    from networkfed.data.summary import describe_federated_data

    base = read_config_file(config_file) if config_file is not None else {}
    data_flags = options.data_flags(
        dataset=dataset, data_path=data_path, partition=partition, num_sites=num_sites,
        rows_per_site=rows_per_site, label=label, site_column=site_column,
        group_column=group_column, time_column=time_column, feature_columns=feature_columns,
        sequence_length=sequence_length, features=features, feature_bins=feature_bins,
        split=split, sites=sites, task=task, rul_cap=rul_cap, rul_column=rul_column,
        run_to_failure=run_to_failure,
    )
    config = build_run_config(base, {"model": model, "seed": seed}, data_flags)
    show_warnings()
    summary = describe_federated_data(load_federated_data(config.data, config.seed))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console.print(_sites_table(summary))
    console.print(f"split: {summary['split']} ({summary['split_reason']})", highlight=False,
                  soft_wrap=True)
    console.print(_features_table(summary))
