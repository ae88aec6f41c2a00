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
        if value is None:  # nothing was given: say what is missing, not "invalid value None"
            super().__init__(f"missing option '{option}': expected {expected}")
        else:
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

    def __init__(self, model_id: str, round_num: int | None, available: Sequence[int]) -> None:
        self.model_id, self.round_num, self.available = model_id, round_num, list(available)
        listed = ", ".join(str(r) for r in self.available) or "none"
        wanted = "no saved round" if round_num is None else f"no round {round_num}"
        super().__init__(f"model '{model_id}' has {wanted}; saved rounds: {listed}")

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


class InvalidParametersError(NetworkFedError, ValueError):
    """A model state that does not fit the model (CLI exit code 4); the model is left unchanged.

    Names every offending key, so a caller can tell a stale checkpoint from a corrupt update.
    """

    exit_code = 4

    def __init__(
        self,
        *,
        missing: Sequence[str] = (),
        unexpected: Sequence[str] = (),
        shapes: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]] = (),
        non_finite: Sequence[str] = (),
        not_tensors: Sequence[str] = (),
    ) -> None:
        self.missing, self.unexpected = list(missing), list(unexpected)
        self.shapes, self.non_finite = list(shapes), list(non_finite)
        self.not_tensors = list(not_tensors)
        parts = [
            f"{label}: {', '.join(keys)}"
            for label, keys in (
                ("missing keys", self.missing),
                ("unexpected keys", self.unexpected),
                ("non-finite values in", self.non_finite),
                ("not tensors", self.not_tensors),
            )
            if keys
        ]
        parts += [f"shape of {key} is {got}, expected {want}" for key, want, got in self.shapes]
        super().__init__("parameters rejected, model unchanged: " + "; ".join(parts))


class TrainingError(NetworkFedError, RuntimeError):
    """Federated training could not go on (CLI exit code 4), e.g. too few valid site updates."""

    exit_code = 4


class RunFolderError(CheckpointError):
    """A run folder file that report / history / restore need is missing or malformed.

    A subclass of :class:`CheckpointError` (a run folder is the checkpoint of a whole run), so
    callers that already catch that keep working; the message names the folder and the file.
    """

    def __init__(self, run_dir: str | Path, filename: str, problem: str) -> None:
        self.run_dir, self.filename = run_dir, filename
        where = f"{filename} " if filename else ""
        NetworkFedError.__init__(self, f"run folder {run_dir}: {where}{problem}")
        self.path, self.problem = Path(run_dir) / filename, problem


class NotARunFolderError(RunFolderError):
    """A path that is not a run folder at all (CLI exit code 2: the wrong folder was named),
    as opposed to a run folder with a broken file (exit code 4)."""

    exit_code = 2

    def __init__(self, run_dir: str | Path, problem: str) -> None:
        super().__init__(run_dir, "", problem)
