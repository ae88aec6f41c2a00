"""``networkfed tune``: an Optuna study of federated runs ("Step 1A" of the design document).

Every trial is a federated simulation on the in-process engine, scored on validation data.
The study lives in ``--study-dir`` (SQLite), so the same command continues a killed study;
it ends with ``best_hyperparameters.json`` for ``networkfed simulate --hparams FILE``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from networkfed.cli.console import make_console
from networkfed.cli.data_options import SPLIT_HELP, RulCap, RulColumn, RunToFailure, Task
from networkfed.cli.errors import handle_errors, show_warnings
from networkfed.cli.run_config import split_columns
from networkfed.cli.tracking import prepare_tracking
from networkfed.core.errors import ConfigError

console = make_console()


def _settings(**options: Any) -> Any:
    """StudySettings from flags; a bad value becomes a ConfigError naming the flag."""
    from networkfed.data.config import DataConfig
    from networkfed.tuning.study import StudySettings

    data_options = {k: v for k, v in options.pop("data").items() if v is not None}
    if options.get("strategy") is None:  # the model's own default (xgboost: xgb-bagging)
        options.pop("strategy", None)
    try:
        data = DataConfig(**data_options)
        return StudySettings(data=data, **options)
    except ValidationError as error:
        first = error.errors()[0]
        # no loc: a check across fields (model and strategy), so name the strategy
        option = str(first["loc"][0]) if first["loc"] else "strategy"
        value = options.get(option, data_options.get(option))
        raise ConfigError(option, value, f"a valid value ({first['msg']})") from None


def _trials_table(study: Any) -> Table:
    from networkfed.tuning.outputs import score_of, top_trials

    score = score_of(study)
    table = Table(title=f"best trials ({score.label}, final round)", title_justify="left")
    for column in ("trial", score.short, "seconds", "hyperparameters"):
        table.add_column(column, justify="left" if column == "hyperparameters" else "right")
    for trial in top_trials(study):
        seconds = trial.duration.total_seconds() if trial.duration else math.nan
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        table.add_row(str(trial.number), f"{trial.value:.4f}", f"{seconds:.1f}", params)
    return table


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[best]}"),
        console=console,
        disable=quiet,
        transient=False,
    )


def _write_outputs(study: Any, study_dir: Path, seed: int) -> dict[str, Any]:
    from networkfed.tuning import outputs

    return {
        "best": outputs.write_best_hyperparameters(study, study_dir),
        "plots": outputs.write_plots(study, study_dir, seed),
        "trials": outputs.write_trials_table(study, study_dir),
    }


def _print_outcome(study: Any, outputs: dict[str, Any], counts: dict[str, int]) -> None:
    console.print(
        f"trials: {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed",
        highlight=False,
    )
    if counts["complete"]:
        console.print(_trials_table(study))
    for name, where in outputs["plots"].items():
        console.print(f"{name}: {where}", highlight=False)
    console.print(f"all trials: {outputs['trials']}", highlight=False)
    if outputs["best"] is not None:
        console.print(
            f"best hyperparameters: [bold]{outputs['best']}[/]\n"
            f"use them: networkfed simulate --hparams {outputs['best']}",
            highlight=False,
        )


def _counts(study: Any) -> dict[str, int]:
    from optuna.trial import TrialState

    states = [trial.state for trial in study.trials]
    return {
        "complete": states.count(TrialState.COMPLETE),
        "pruned": states.count(TrialState.PRUNED),
        "failed": states.count(TrialState.FAIL),
    }


def _tracking(value: str | None, study_dir: Path, settings: Any) -> Any:
    """The study's MLflow parent run, when ``--mlflow`` was given."""
    if value is None:
        return None
    from networkfed.monitoring.tracking import tracking_store
    from networkfed.tuning.tracking import StudyTracking

    return StudyTracking(tracking_store(value), study_dir, settings)


@handle_errors
def tune_command(
    model: str = typer.Option("cnn", "--model", help="cnn, lstm or hybrid."),
    dataset: str = typer.Option("synthetic", "--dataset", help="synthetic, ai4i2020, cmapss, csv."),
    data_path: Annotated[
        Path | None, typer.Option("--data-path", help="File or folder of the data.")
    ] = None,
    trials: int = typer.Option(20, "--trials", min=1, help="Finished trials the study needs."),
    rounds: int = typer.Option(5, "--rounds", min=1, help="Federated rounds per trial."),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0, help="Stop starting trials after this many seconds."
    ),
    study_dir: Path | None = typer.Option(
        None, "--study-dir", help="Folder of the study (SQLite + outputs); "
        "default: studies/<model>-<dataset>."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the sampler, data and every run."),
    strategy: str | None = typer.Option(
        None, "--strategy", help="Strategy whose options are tuned [default: fedavg; xgboost: "
        "xgb-bagging]."),
    pruning: bool = typer.Option(
        True, "--pruning/--no-pruning",
        help="Stop trials whose validation score (F1; RMSE with --task rul) is worse than the "
        "median."),
    min_fit_clients: int = typer.Option(3, "--min-fit-clients", min=1, help="Sites per round."),
    partition: str | None = typer.Option(None, "--partition", help="natural, iid, dirichlet..."),
    num_sites: int | None = typer.Option(None, "--num-sites", help="Number of sites."),
    rows_per_site: int | None = typer.Option(None, "--rows-per-site", help="synthetic: rows."),
    sequence_length: int | None = typer.Option(
        None, "--sequence-length", help="Window steps (default: the model's own)."
    ),
    label: str | None = typer.Option(None, "--label", help="csv: the label column."),
    site_column: str | None = typer.Option(None, "--site-column", help="csv: site column."),
    group_column: str | None = typer.Option(None, "--group-column", help="csv: machine column."),
    time_column: str | None = typer.Option(None, "--time-column", help="csv: time column."),
    feature_columns: str | None = typer.Option(
        None, "--feature-columns", help="csv: comma-separated feature columns."
    ),
    features: str | None = typer.Option(
        None, "--features", help="Comma-separated subset of the source's features."
    ),
    feature_bins: int | None = typer.Option(
        None, "--feature-bins", help="Bin columns per feature, fitted federatedly (0 = off)."
    ),
    split: str | None = typer.Option(None, "--split", help=SPLIT_HELP),
    task: Task = None,
    rul_cap: RulCap = None,
    rul_column: RulColumn = None,
    run_to_failure: RunToFailure = None,
    mlflow: str | None = typer.Option(
        None, "--mlflow", metavar="[URI]",
        help="Track the study in MLflow (a parent run, each trial a child run): a folder "
        "(an SQLite store in it; alone: ./mlruns) or a tracking URI. Needs networkfed[mlflow].",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or tables."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Tune a model's hyperparameters and its strategy's options with Optuna.

    Run the same command again to continue a study (finished trials count toward --trials).
    With --task rul trials are ranked by validation RMSE in cycles (the study minimises it).
    """
    import optuna

    from networkfed.data import load_federated_data
    from networkfed.tuning.outputs import best_hyperparameters
    from networkfed.tuning.study import run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar reports trials
    # A study tries poor settings on purpose: the training monitor's per-trial findings
    # (stagnation, ...) are noise here; the trial's score already says how it went.
    logging.getLogger("networkfed.monitoring").setLevel(logging.ERROR)
    logging.getLogger("networkfed.monitoring.tracking").setLevel(logging.WARNING)  # not noise

    settings = _settings(
        model=model, rounds=rounds, seed=seed, strategy=strategy, pruning=pruning,
        min_fit_clients=min_fit_clients,
        data={
            "dataset": dataset, "data_path": data_path, "partition": partition,
            "num_sites": num_sites, "rows_per_site": rows_per_site,
            "sequence_length": sequence_length, "label_column": label,
            "site_column": site_column, "group_column": group_column, "time_column": time_column,
            "feature_columns": split_columns(feature_columns),
            "features": split_columns(features), "feature_bins": feature_bins, "split": split,
            "task": task, "rul_cap": rul_cap, "rul_column": rul_column,
            "run_to_failure": run_to_failure,
        },
    )
    show_warnings()
    from networkfed.tuning.score import study_score

    score = study_score(settings.data.task)
    study_dir = study_dir or Path("studies") / f"{settings.model.value}-{settings.data.dataset}"
    if mlflow is not None:
        prepare_tracking(mlflow)
    data = load_federated_data(settings.data, settings.seed)  # bad data: no study is created
    tracking = _tracking(mlflow, study_dir, settings)
    with _progress(quiet or as_json) as progress:
        task = progress.add_task(f"tuning {settings.model.value}", total=trials, best="")

        def on_start(finished: int) -> None:
            progress.update(task, completed=min(finished, trials))

        def on_trial(event: Any) -> None:
            best = ("" if event.best_value is None
                    else f"best {score.short} {event.best_value:.4f}")
            progress.update(task, completed=min(event.finished, trials), best=best)

        try:
            study = run_study(study_dir, settings, trials, data, timeout=timeout,
                              on_start=on_start, on_trial=on_trial,
                              trial_callbacks=tracking and tracking.trial_callbacks)
        except KeyboardInterrupt:
            if tracking is not None:
                tracking.finish(None, None, "interrupted")
            console.print("interrupted: run the same command again to continue the study")
            raise typer.Exit(130) from None
        except BaseException:
            if tracking is not None:
                tracking.finish(None, None, "failed")
            raise
    outputs = _write_outputs(study, study_dir, settings.seed)
    if tracking is not None:
        tracking.finish(study, outputs)
    if as_json:
        typer.echo(json.dumps({"counts": _counts(study), "best": best_hyperparameters(study),
                               "study_dir": str(study_dir)}, indent=2))
    elif not quiet:
        _print_outcome(study, outputs, _counts(study))
