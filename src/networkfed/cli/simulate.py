"""``networkfed simulate``: run a federated simulation and write its run folder (J1, J2).

Every option can live in a TOML file (``--config``); flags override it. Exit codes: 0 done,
2 bad option or config, 3 bad data, 4 training could not go on, 130 interrupted (the saved
rounds are kept: ``--resume`` continues).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from networkfed.cli.data_options import RulCap, RulColumn, RunToFailure, Split, Task
from networkfed.cli.errors import err_console, handle_errors, show_warnings
from networkfed.cli.progress import ConsoleProgress
from networkfed.cli.run_config import (
    build_run_config,
    default_run_dir,
    parse_strategy_options,
    read_config_file,
    split_columns,
)
from networkfed.cli.tracking import prepare_tracking
from networkfed.core.errors import ConfigError
from networkfed.federated.config import RunConfig

EXIT_INTERRUPTED = 130
DEFAULT_MLFLOW_STORE = "mlruns"
"""``--mlflow`` alone, ``simulate`` and ``tune`` alike (``cli.optional_value``); the same as
``networkfed.monitoring.tracking.DEFAULT_STORE``, not imported at start-up."""

Opt = typer.Option
DATA = "Data"
FED = "Federation"
DP = "Differential privacy"


@handle_errors
def simulate_command(
    config_file: Annotated[Path | None, Opt("--config", help="TOML file with any of these "
                                            "options ([data] table for data options).")] = None,
    dataset: Annotated[str | None, Opt(help="synthetic, ai4i2020, cmapss or csv.",
                                       rich_help_panel=DATA)] = None,
    data_path: Annotated[Path | None, Opt(help="File or folder of the dataset.",
                                          rich_help_panel=DATA)] = None,
    partition: Annotated[str | None, Opt(help="natural, iid, dirichlet or quantity.",
                                         rich_help_panel=DATA)] = None,
    num_sites: Annotated[int | None, Opt(help="Sites to split the data into.",
                                         rich_help_panel=DATA)] = None,
    rows_per_site: Annotated[int | None, Opt(help="Synthetic rows per site.",
                                             rich_help_panel=DATA)] = None,
    sites: Annotated[str | None, Opt(help="Synthetic sites: a scenario (example, sign-flip) "
                                     "or comma-separated presets.", rich_help_panel=DATA)] = None,
    label: Annotated[str | None, Opt(help="csv: label column.", rich_help_panel=DATA)] = None,
    site_column: Annotated[str | None, Opt(help="csv: site column.", rich_help_panel=DATA)] = None,
    group_column: Annotated[str | None, Opt(help="csv: machine column.",
                                            rich_help_panel=DATA)] = None,
    time_column: Annotated[str | None, Opt(help="csv: time column.", rich_help_panel=DATA)] = None,
    feature_columns: Annotated[str | None, Opt(help="csv: comma-separated feature columns.",
                                               rich_help_panel=DATA)] = None,
    sequence_length: Annotated[int | None, Opt(help="Time steps per window (default: the "
                                               "model's own: CNN 1 = rows, LSTM and hybrid 10).",
                                               rich_help_panel=DATA)] = None,
    features: Annotated[str | None, Opt(help="Comma-separated subset of the source's features "
                                        "the model sees (default: all).",
                                        rich_help_panel=DATA)] = None,
    feature_bins: Annotated[int | None, Opt(help="Up to N piecewise-linear bin columns per "
                                            "feature, edges fitted federatedly (0 = off).",
                                            rich_help_panel=DATA)] = None,
    split: Split = None,
    task: Task = None,
    rul_cap: RulCap = None,
    rul_column: RulColumn = None,
    run_to_failure: RunToFailure = None,
    rul_loss: Annotated[str | None, Opt(help="rul: training loss, mse (default) or huber.",
                                        rich_help_panel=FED)] = None,
    model: Annotated[str | None, Opt(help="cnn, lstm, hybrid or xgboost.")] = None,
    rounds: Annotated[int | None, Opt(help="Federated rounds.", rich_help_panel=FED)] = None,
    local_epochs: Annotated[int | None, Opt(help="Epochs per site per round (xgboost: "
                                            "boosting rounds, default 5).",
                                            rich_help_panel=FED)] = None,
    strategy: Annotated[str | None, Opt(help="fedavg, fedprox, fedadam, ... (xgboost: "
                                        "xgb-bagging or xgb-cyclic).",
                                        rich_help_panel=FED)] = None,
    strategy_option: Annotated[list[str] | None, Opt(help="KEY=VALUE option of the strategy "
                                                     "(repeatable).", rich_help_panel=FED)] = None,
    attack: Annotated[str | None, Opt(help="Simulate hostile or broken sites: sign-flip, "
                                      "gaussian, scaling, alie, ipm, label-flip, nan or stale.",
                                      rich_help_panel=FED)] = None,
    attackers: Annotated[int | None, Opt(help="How many sites attack (chosen by --seed).",
                                         rich_help_panel=FED)] = None,
    attack_option: Annotated[list[str] | None, Opt(help="KEY=VALUE option of the attack, e.g. "
                                                   "sd=0.5 (repeatable).",
                                                   rich_help_panel=FED)] = None,
    fraction_fit: Annotated[float | None, Opt(help="Share of sites sampled per round.",
                                              rich_help_panel=FED)] = None,
    min_fit_clients: Annotated[int | None, Opt(help="Fewest sites a round may aggregate.",
                                               rich_help_panel=FED)] = None,
    site_dropout_rate: Annotated[float | None, Opt(help="Chance a sampled site drops out.",
                                                   rich_help_panel=FED)] = None,
    class_weighting: Annotated[str | None, Opt(help="Class weights of the training loss: "
                                               "balanced (default), sqrt or none.",
                                               rich_help_panel=FED)] = None,
    fedbn: Annotated[bool | None, Opt("--fedbn/--no-fedbn", help="FedBN: each site keeps its "
                                      "own BatchNorm layers (CNN, hybrid).",
                                      rich_help_panel=FED)] = None,
    fedper: Annotated[bool | None, Opt("--fedper/--no-fedper", help="FedPer: each site keeps its "
                                       "own output layer.", rich_help_panel=FED)] = None,
    dp: Annotated[str | None, Opt(help="client (DP-FedAvg) or sample (DP-SGD at every "
                                  "site), with a reported ε; needs --dp-clip and --dp-noise "
                                  "or --dp-epsilon.",
                                  rich_help_panel=DP)] = None,
    dp_side: Annotated[str | None, Opt(help="Who clips and adds the noise: server (default) "
                                       "or client (each site).", rich_help_panel=DP)] = None,
    dp_clip: Annotated[float | None, Opt(help="L2 bound of one site's update (client) or one "
                                         "example's gradient (sample).",
                                         rich_help_panel=DP)] = None,
    dp_clip_quantile: Annotated[float | None, Opt(help="client: adaptive clipping, the clip "
                                                  "follows this quantile of the update norms "
                                                  "(--dp-clip is the first one).",
                                                  rich_help_panel=DP)] = None,
    dp_noise: Annotated[float | None, Opt(help="Noise multiplier (noise SD = it x clip, over "
                                          "the sites for client).", rich_help_panel=DP)] = None,
    dp_epsilon: Annotated[float | None, Opt(help="Target ε for the whole run (the noise "
                                            "multiplier is solved for).",
                                            rich_help_panel=DP)] = None,
    dp_delta: Annotated[float | None, Opt(help="δ of the reported ε [default: 1e-5].",
                                          rich_help_panel=DP)] = None,
    seed: Annotated[int | None, Opt(help="Seed of everything random.")] = None,
    baselines: Annotated[bool | None, Opt("--baselines/--no-baselines", help="Also train "
                                          "centralized and local-only baselines.")] = None,
    engine: Annotated[str | None, Opt(help="inprocess or flower.")] = None,
    workers: Annotated[int | None, Opt(help="Worker processes (0 = none; default: chosen "
                                       "for this machine).")] = None,
    hparams: Annotated[Path | None, Opt(help="best_hyperparameters.json from "
                                        "`networkfed tune`.")] = None,
    run_dir: Annotated[Path | None, Opt(help="Run folder [default: "
                                        "runs/<timestamp>-<model>-<strategy>].")] = None,
    mlflow: Annotated[str | None, Opt("--mlflow", metavar="[URI]", help="Track the run in "
                                      "MLflow: a folder (an SQLite store in it; alone: "
                                      "./mlruns) or a tracking URI. Needs "
                                      "networkfed[mlflow].")] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue the run in --run-dir from its "
                                "last saved round.")] = False,
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON only.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress, no table.")] = False,
) -> None:
    """Train a failure predictor across sites, round by round, and write a run folder
    (metrics, checkpoints, plots, HTML report)."""
    run_flags = {
        "model": model, "rounds": rounds, "local_epochs": local_epochs, "strategy": strategy,
        "strategy_options": parse_strategy_options(strategy_option),
        "fraction_fit": fraction_fit, "min_fit_clients": min_fit_clients,
        "site_dropout_rate": site_dropout_rate, "seed": seed, "baselines": baselines,
        "engine": engine, "workers": workers, "class_weighting": class_weighting,
        "fedbn": fedbn, "fedper": fedper, "attack": attack, "attackers": attackers,
        "attack_options": parse_strategy_options(attack_option, "--attack-option", "sd=0.5"),
        "mlflow": mlflow, "dp": dp, "dp_side": dp_side, "dp_clip": dp_clip,
        "dp_clip_quantile": dp_clip_quantile, "dp_noise": dp_noise, "dp_epsilon": dp_epsilon,
        "dp_delta": dp_delta, "rul_loss": rul_loss,
    }
    data_flags = {
        "dataset": dataset, "data_path": data_path, "partition": partition,
        "num_sites": num_sites, "rows_per_site": rows_per_site, "sites": split_columns(sites),
        "label_column": label, "site_column": site_column, "group_column": group_column,
        "time_column": time_column,
        "feature_columns": split_columns(feature_columns), "sequence_length": sequence_length,
        "features": split_columns(features), "feature_bins": feature_bins, "split": split,
        "task": task, "rul_cap": rul_cap, "rul_column": rul_column,
        "run_to_failure": run_to_failure,
    }
    config, folder = _resolve(config_file, hparams, run_flags, data_flags, run_dir, resume)
    if config.mlflow is not None:
        prepare_tracking(config.mlflow)
    summary = _run(config, folder, resume, quiet or as_json)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        from networkfed.cli.result_lines import result_lines

        console = Console()
        lines = [] if quiet else result_lines(summary)
        for line in [*lines, f"Report:     {summary.get('report')}", f"Run folder: {folder}"]:
            console.print(line, highlight=False, soft_wrap=True)


def _resolve(
    config_file: Path | None, hparams: Path | None, run_flags: dict[str, Any],
    data_flags: dict[str, Any], run_dir: Path | None, resume: bool,
) -> tuple[RunConfig, Path]:
    """The run's config and folder from file, tune result and flags."""
    if resume:
        from networkfed.monitoring.run_writer import config_dict, load_run_config

        folder = run_dir or _config_run_dir(config_file)
        if folder is None:
            raise ConfigError("--resume", True, "--run-dir naming the run to continue")
        base: dict[str, Any] = config_dict(load_run_config(folder))
    else:
        base = read_config_file(config_file) if config_file is not None else {}
        folder = run_dir
    tuned = _tuned(hparams)
    config = build_run_config(base, {**run_flags, "run_dir": None}, data_flags, tuned)
    folder = folder or config.run_dir or default_run_dir(config)
    return config.model_copy(update={"run_dir": folder}), folder


def _config_run_dir(config_file: Path | None) -> Path | None:
    if config_file is None:
        return None
    value = read_config_file(config_file).get("run_dir")
    return Path(value) if value else None


def _tuned(hparams: Path | None) -> dict[str, Any] | None:
    if hparams is None:
        return None
    from networkfed.tuning.hparams import hparams_updates, load_hparams_file

    return hparams_updates(load_hparams_file(hparams))


def _run(config: RunConfig, folder: Path, resume: bool, quiet: bool) -> dict[str, Any]:
    """Run with progress display and warnings on stderr; Ctrl-C stops cleanly (exit 130)."""
    from networkfed.api import run_federated  # torch loads only when a command needs it

    show_warnings()
    progress = None if quiet else ConsoleProgress(Console(stderr=True))
    try:
        result = run_federated(config, run_dir=folder, progress=progress, resume=resume)
    except KeyboardInterrupt:
        if progress is not None:
            progress.stop()
        err_console.print(f"[yellow]interrupted:[/] saved rounds are kept in {folder}; "
                          f"continue with: networkfed simulate --resume --run-dir {folder}",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BaseException:
        if progress is not None:
            progress.stop()
        raise
    from networkfed.monitoring.run_writer import jsonable

    report = folder / "report.html"
    return jsonable({**result.summary(), "run_dir": folder,
                     "report": report if report.is_file() else None})
