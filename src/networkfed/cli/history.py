"""``networkfed history RUN`` and ``networkfed restore RUN --round N --out FILE`` (journey J7).

Every round's global model is kept in the run folder's ``checkpoints/``; ``history`` lists
them with the metrics saved beside each, ``restore`` writes one out as a portable model file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from networkfed.cli.console import make_console
from networkfed.cli.errors import handle_errors

console = make_console()

COLUMNS = (
    ("loss", "loss"),
    ("accuracy", "acc"),
    ("balanced_accuracy", "bal.acc"),
    ("precision", "prec"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("threshold", "thresh"),
)
RUL_COLUMNS = (("rmse", "RMSE"), ("nasa_score", "NASA"), ("mae", "MAE"),
               ("within_10", "±10"), ("loss", "MSE"))
"""A RUL run's columns; its ``validation_pr_auc`` holds minus the validation RMSE (the
score its best round maximises, :func:`networkfed.federated.regression.selection_score`)."""


@handle_errors
def history_command(
    run: Annotated[Path, typer.Argument(help="Run folder written by `networkfed simulate`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rounds as JSON.")] = False,
) -> None:
    """List every saved round of the run's global model with its overall test metrics.

    The round with the best validation PR-AUC is marked (*): the one to restore or predict with.
    """
    from networkfed.monitoring.history import saved_rounds  # torch loads only when needed

    rounds = saved_rounds(run)
    if as_json:
        typer.echo(json.dumps([saved.to_dict() for saved in rounds], indent=2))
        return
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
        pad_edge=False,
    )
    rul = any("rmse" in saved.metrics for saved in rounds)
    columns, sign = (RUL_COLUMNS, -1.0) if rul else (COLUMNS, 1.0)
    table.add_column("round", justify="right", style="bold", no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("val RMSE" if rul else "val PR-AUC", justify="right", no_wrap=True)
    for saved in rounds:
        label = f"{saved.round}*" if saved.best else str(saved.round)
        if saved.problem:
            table.add_row(label, f"[red]unreadable: {saved.problem}[/]")
            continue
        metrics = {**saved.metrics, "threshold": saved.threshold}
        table.add_row(
            label, *[_number(metrics.get(key)) for key, _ in columns],
            _number(None if saved.validation_pr_auc is None else sign * saved.validation_pr_auc),
            style="green" if saved.best else None,
        )
    # the title on its own line: as a table title it wrapped to the table's width, cutting
    # a long path in two
    console.print(f"Saved rounds of {run} (overall test metrics)", highlight=False,
                  soft_wrap=True, markup=False)
    console.print(table)
    best = next((saved.round for saved in rounds if saved.best), None)
    for line in _advice(run, best, rounds):
        if rul:
            line = line.replace("validation PR-AUC", "validation RMSE")
        console.print(line, highlight=False, soft_wrap=True)


def _advice(run: Path, best: int | None, rounds: list) -> list[str]:
    """What to restore. Round 0 is the untrained initial model: when it is the best one, say
    so and name the best trained round instead of recommending it silently."""
    restore = f"networkfed restore {run} --round {{}} --out model.safetensors"
    from networkfed.trees.checkpoint import tree_rounds

    verb = "restore"
    if tree_rounds(run):  # an xgboost run: the booster is exported, not restored
        restore, verb = f"networkfed export --run {run} --round {{}} --format json", "export"
    if best is None:
        return [f"{len(rounds)} saved rounds; {verb} one with: " + restore.format("N")]
    if best != 0:
        return [f"* best validation PR-AUC: round {best}",
                f"{len(rounds)} saved rounds; {verb} one with: " + restore.format(best)]
    trained = [s for s in rounds if s.round > 0 and not s.problem]
    lines = ["* best validation PR-AUC: round 0, the untrained initial model: no round of "
             "training improved on it, so this run produced no useful model (see the findings "
             "in report.html or summary.json)"]
    if trained:
        runner_up = max(trained, key=lambda s: _score(s.validation_pr_auc))
        lines.append(f"{len(rounds)} saved rounds; the best trained round is {runner_up.round}: "
                     + restore.format(runner_up.round))
    return lines


def _score(value: object) -> float:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return float(number) if number is not None and math.isfinite(number) else -math.inf


@handle_errors
def restore_command(
    run: Annotated[Path, typer.Argument(help="Run folder written by `networkfed simulate`.")],
    round_num: Annotated[int, typer.Option("--round", help="Round to restore (see `history`).")],
    out: Annotated[Path, typer.Option("--out", help="Model file to write (.safetensors).")],
    site: Annotated[str | None, typer.Option("--site", help="After a FedBN / FedPer run: that "
                                             "site's model (its own layers).")] = None,
) -> None:
    """Write round N's global model to FILE (safetensors) and FILE's .json beside it (model
    type and config, preprocessing, threshold, metrics), enough to rebuild the model."""
    from networkfed.monitoring.history import restore_round  # torch loads only when needed

    model_file, metadata_file = restore_round(run, round_num, out, site)
    console.print(
        f"restored round {round_num} of {run} to [bold]{model_file}[/] (metadata: {metadata_file})",
        highlight=False,
        soft_wrap=True,
    )


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value:.3f}"
