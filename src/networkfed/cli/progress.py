"""What ``networkfed simulate`` shows while it trains: progress bars and a per-round table.

A callback like any other: the engine calls it, it only writes to the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from networkfed.federated.callbacks import Callback, EngineView
from networkfed.federated.results import RoundResult, RunResult
from networkfed.federated.types import SiteUpdate

__all__ = ["ROUND_COLUMNS", "ConsoleProgress"]

ROUND_COLUMNS = (
    ("round", "round", 5),
    ("loss", "loss", 7),
    ("accuracy", "acc", 7),
    ("balanced_accuracy", "bal.acc", 7),
    ("f1", "F1", 7),
    ("pr_auc", "PR-AUC", 7),
    ("roc_auc", "ROC-AUC", 7),
    ("sites", "sites", 5),
    ("seconds", "secs", 6),
)
RUL_COLUMNS = (
    ("round", "round", 5),
    ("rmse", "RMSE", 8),
    ("nasa_score", "NASA", 10),
    ("mae", "MAE", 8),
    ("within_10", "±10", 7),
    ("sites", "sites", 5),
    ("seconds", "secs", 6),
)
"""The table of a RUL run (``task = "rul"``): test RMSE, NASA score, MAE, share within ±10."""


def _cell(value: Any, width: int) -> str:
    if isinstance(value, float):
        text = "—" if math.isnan(value) else f"{value:.4f}" if width >= 7 else f"{value:.1f}"
    else:
        text = "—" if value is None else str(value)
    return text.rjust(width)


class ConsoleProgress(Callback):
    """Rich progress bars for rounds and sites, and one table row per finished round."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self._rounds: TaskID | None = None
        self._sites: TaskID | None = None
        self.columns = ROUND_COLUMNS

    def on_train_begin(self, engine: EngineView) -> None:
        config = engine.config
        self.console.print(
            f"[bold]{config.model}[/] on {len(engine.data.sites)} sites "
            f"({', '.join(engine.data.site_ids)}), {config.strategy}, {config.rounds} rounds "
            f"x {config.local_epochs} local epochs"
            + (f", resuming after round {engine.completed_round}" if engine.completed_round > 0
               else "")
        )
        self.columns = RUL_COLUMNS if config.data.task == "rul" else ROUND_COLUMNS
        self.console.print(" ".join(_cell(h, w) for _, h, w in self.columns), style="bold")
        self.progress.start()
        self._rounds = self.progress.add_task(
            "rounds", total=config.rounds, completed=max(engine.completed_round, 0))
        self._sites = self.progress.add_task("sites", total=len(engine.data.sites))

    def on_round_begin(self, round_num: int, site_ids: Sequence[str]) -> None:
        if self._sites is not None:
            self.progress.reset(self._sites, total=len(site_ids),
                                description=f"round {round_num}")

    def on_site_trained(self, round_num: int, update: SiteUpdate) -> None:
        if self._sites is not None:
            self.progress.advance(self._sites)

    def after_round(self, result: RoundResult, notes: Mapping[str, Any]) -> None:
        row = {**result.overall, "round": result.round_num, "seconds": result.seconds,
               "sites": len(result.trained) if result.round_num else "—"}
        line = " ".join(_cell(row.get(k), w) for k, _, w in self.columns)
        if result.privacy:  # differential privacy: the ε spent so far, every round
            line += f"  ε={result.privacy['epsilon']:.3g}"
        self.progress.console.print(line)
        if self._rounds is not None and result.round_num > 0:
            self.progress.update(self._rounds, completed=result.round_num)

    def on_baselines_begin(self, names: Sequence[str]) -> None:
        if self._sites is not None:
            self.progress.reset(self._sites, total=len(names), description="baselines")
            self.progress.console.print(f"training {len(names)} baselines with the same "
                                        f"rounds and epochs: {', '.join(names)}",
                                        soft_wrap=True)

    def on_baseline_trained(self, done: int) -> None:
        if self._sites is not None:
            self.progress.update(self._sites, completed=done)

    def on_train_end(self, result: RunResult) -> None:
        self.stop()

    def stop(self) -> None:
        """Remove the bars (also called when a run ends in an error or Ctrl-C)."""
        self.progress.stop()
