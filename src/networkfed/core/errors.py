"""One small exception hierarchy; each exception builds its own message from its fields.

User input errors subclass the built-ins that callers of the design document already catch
(``ValueError``, ``KeyError``), in the spirit of scikit-learn's ``NotFittedError``. The CLI
turns any :class:`NetworkFedError` into one line and an exit code (see ``exit_code``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class NetworkFedError(Exception):
    """Base of every error NetworkFed raises on purpose."""

    exit_code: int = 1


class ConfigError(NetworkFedError, ValueError):
    """A bad option, flag or configuration value (CLI exit code 2)."""

    exit_code = 2

    def __init__(self, option: str, value: object, expected: str) -> None:
        self.option, self.value, self.expected = option, value, expected
        super().__init__(f"invalid value {value!r} for option '{option}': expected {expected}")


class DataValidationError(NetworkFedError, ValueError):
    """Input data that cannot be used (CLI exit code 3).

    Names the file, the column and the first offending rows so a user can go straight there.
    """

    exit_code = 3

    def __init__(
        self,
        problem: str,
        *,
        path: str | Path | None = None,
        column: str | None = None,
        rows: Sequence[int] = (),
        hint: str | None = None,
    ) -> None:
        self.problem, self.path, self.column = problem, path, column
        self.rows, self.hint = list(rows), hint
        parts = [f"{path}: " if path is not None else ""]
        if column is not None:
            parts.append(f"column '{column}': ")
        parts.append(problem)
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:5])
            more = f" (and {len(self.rows) - 5} more)" if len(self.rows) > 5 else ""
            parts.append(f" (first offending rows: {shown}{more})")
        if hint:
            parts.append(f"; {hint}")
        super().__init__("".join(parts))


class CheckpointError(NetworkFedError, ValueError):
    """A checkpoint that is missing, truncated or corrupt (CLI exit code 4)."""

    exit_code = 4

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"checkpoint {path}: {problem}")


class UnknownRoundError(NetworkFedError, KeyError):
    """A round that was never saved; lists the rounds that exist."""

    exit_code = 2

    def __init__(self, model_id: str, round_num: int, available: Sequence[int]) -> None:
        self.model_id, self.round_num, self.available = model_id, round_num, list(available)
        listed = ", ".join(str(r) for r in self.available) or "none"
        super().__init__(f"model '{model_id}' has no round {round_num}; saved rounds: {listed}")

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0])


class UnknownModelError(NetworkFedError, KeyError):
    """A model id that is not registered; lists the registered ones."""

    exit_code = 2

    def __init__(self, model_id: str, available: Sequence[str]) -> None:
        self.model_id, self.available = model_id, list(available)
        listed = ", ".join(repr(m) for m in self.available) or "none"
        super().__init__(f"unknown model id {model_id!r}; registered models: {listed}")

    def __str__(self) -> str:
        return str(self.args[0])


class TrainingError(NetworkFedError, RuntimeError):
    """Federated training could not go on (CLI exit code 4), e.g. too few valid site updates."""

    exit_code = 4
