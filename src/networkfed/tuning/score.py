"""What a study optimises, named once: the words of its messages, files and plots.

A failure classifier's study maximises the pooled validation F1; a remaining-life study
(``task = "rul"``) minimises the pooled validation RMSE, in cycles, so ``trials.csv``, the
progress line and ``best_hyperparameters.json`` show the RMSE itself (Optuna's
``direction="minimize"``), not a negated one. Both are validation numbers only: the test
windows never choose hyperparameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["F1_SCORE", "RMSE_SCORE", "StudyScore", "study_score"]


@dataclass(frozen=True)
class StudyScore:
    """The metric a study optimises and how it is shown."""

    key: str
    """The key in an evaluation's ``validation`` metrics."""
    name: str
    """Its name in messages (``F1``, ``RMSE``)."""
    direction: Literal["maximize", "minimize"]
    objective: str
    """The sentence ``best_hyperparameters.json`` records as its ``objective``."""

    @property
    def label(self) -> str:
        """``validation F1`` / ``validation RMSE``: plots, log lines and pruning messages."""
        return f"validation {self.name}"

    @property
    def short(self) -> str:
        """``val F1`` / ``val RMSE``: the terminal's table column and progress line."""
        return f"val {self.name}"

    def ranking_key(self, value: float) -> float:
        """Sort key that puts the best value first."""
        return -value if self.direction == "maximize" else value

    @property
    def worse_side(self) -> str:
        """``below`` / ``above``: where a pruned trial's score stands against the median."""
        return "below" if self.direction == "maximize" else "above"


F1_SCORE = StudyScore(
    "f1", "F1", "maximize",
    "validation F1 (failure class) of the final round's global model, pooled over sites")
RMSE_SCORE = StudyScore(
    "rmse", "RMSE", "minimize",
    "validation RMSE (cycles, lower is better) of the final round's global model, pooled "
    "over every site's validation windows")


def study_score(task: str) -> StudyScore:
    """The score of a study on ``task`` (a :class:`~networkfed.data.config.DataConfig`
    task): RMSE for ``rul``, F1 otherwise."""
    return RMSE_SCORE if task == "rul" else F1_SCORE
