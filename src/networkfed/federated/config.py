"""Everything one federated run needs, resolved once and written to the run folder.

``RunConfig`` is what ``networkfed simulate`` builds from ``--config FILE.toml`` plus flags,
what ``config.toml`` in a run folder holds, and what ``run_federated`` takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from networkfed.core.enums import ModelType
from networkfed.data.config import DataConfig
from networkfed.models._registry import get_model_entry, list_models

StrategyName = Literal[
    "fedavg",
    "fedprox",
    "fedadam",
    "fedyogi",
    "fedadagrad",
    "fedavgm",
    "fedmedian",
    "fedtrimmedavg",
    "krum",
    "multikrum",
    "bulyan",
]

TreeStrategyName = Literal["xgb-bagging", "xgb-cyclic"]
"""Federated XGBoost's algorithms (:mod:`networkfed.trees`): trees, not tensors, are merged."""

AttackName = Literal[
    "sign-flip", "gaussian", "scaling", "alie", "ipm", "label-flip", "nan", "stale"
]
"""Simulated hostile or broken sites (:mod:`networkfed.federated.attacks`)."""

ClassWeighting = Literal["balanced", "sqrt", "none"]
"""How the training loss weighs the classes
(:func:`~networkfed.federated.local_training.class_weights_from_counts`)."""


class RunConfig(BaseModel):
    """A federated run: data, model, federation settings, seed and where results go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: DataConfig = DataConfig()
    """The data; a ``sequence_length`` left unset becomes the model's default window (rows
    for the CNN, 10 steps for the LSTM and hybrid: each as the design document builds it)."""
    model: ModelType = ModelType.CNN
    hparams: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the model's tuned hyperparameters and training config (e.g. from tune)."""
    rounds: int = Field(default=10, ge=1)
    local_epochs: int = Field(default=3, ge=1)
    strategy: StrategyName | TreeStrategyName = "fedavg"
    strategy_options: dict[str, float | int] = Field(default_factory=dict)
    fraction_fit: float = Field(default=1.0, gt=0, le=1)
    min_fit_clients: int = Field(default=3, ge=1)
    site_dropout_rate: float = Field(default=0.0, ge=0, lt=1)
    seed: int = 42
    engine: Literal["inprocess", "flower"] = "inprocess"
    workers: int | None = Field(default=None, ge=0)
    """Worker processes of the in-process engine (0 = none, None = chosen for the machine);
    results do not depend on it."""
    class_weighting: ClassWeighting = "balanced"
    """Class weights of the training loss (``balanced``: both classes weigh the same in total;
    ``sqrt``: their square root; ``none``: plain cross-entropy); federated training and the
    baselines use the same."""
    fedbn: bool = False
    """FedBN: every site keeps its own BatchNorm layers, for training and scoring; all other
    layers are aggregated as the strategy says (:mod:`networkfed.federated.site_layers`). No
    effect on a model without BatchNorm (the LSTM)."""
    fedper: bool = False
    """FedPer: every site keeps its own output layer (the model's last linear layer), for
    training and scoring; with ``fedbn`` both stay at the sites."""
    attack: AttackName | None = None
    """A simulated attack by ``attackers`` sites chosen by seed (``None``: every site is
    honest); metrics are then those of the honest sites."""
    attackers: int = Field(default=0, ge=0)
    attack_options: dict[str, float] = Field(default_factory=dict)
    """Options of the attack (e.g. ``{"sd": 0.5}`` for ``gaussian``)."""
    dp: Literal["client", "sample"] | None = None
    """Differential privacy (``client``: client-level DP-FedAvg; ``sample``: DP-SGD at every
    site; ``None``: none; :mod:`networkfed.privacy`). Needs ``dp_clip`` and one of
    ``dp_noise`` / ``dp_epsilon`` (:func:`networkfed.privacy.setup.privatize` checks them
    together, before a run)."""
    dp_side: Literal["server", "client"] = "server"
    """Who clips and adds the noise: the server, or each site (then the server never sees an
    un-noised update)."""
    dp_clip: float | None = Field(default=None, gt=0)
    """L2 bound of one site's update per round (``client``), of one example's gradient per
    step (``sample``)."""
    dp_clip_quantile: float | None = Field(default=None, gt=0, lt=1)
    """Client-level DP with adaptive clipping: ``dp_clip`` is then the first round's clip and
    the clip follows this quantile of the sites' update norms (``None``: a fixed clip)."""
    dp_noise: float | None = Field(default=None, gt=0)
    """Noise multiplier: noise SD = dp_noise x dp_clip / sites aggregated (``client``), x
    dp_clip on each step's gradient sum (``sample``)."""
    dp_epsilon: float | None = Field(default=None, gt=0)
    """Target ε for the whole run: the noise multiplier is solved for from the rounds and
    the sampling rate."""
    dp_delta: float = Field(default=1e-5, gt=0, lt=1)
    """The δ at which ε is reported; must be below 1 / training examples (of the smallest
    site, for ``sample``)."""
    baselines: bool = False
    rul_loss: Literal["mse", "huber"] = "mse"
    """The training loss of a RUL run (``data.task = "rul"``): mean squared error (what RMSE
    scores) or Huber (less pulled by the noisy targets of early cycles)."""
    run_dir: Path | None = None
    mlflow: str | None = None
    """Track the run in MLflow: a local folder (an SQLite store inside it) or a tracking URI
    (:func:`networkfed.monitoring.tracking.tracking_store`); ``None``: no tracking."""

    @field_validator("mlflow", mode="after")
    @classmethod
    def _absolute_store(cls, value: str | None) -> str | None:
        """A folder is made absolute, so a resumed run finds the same store from anywhere."""
        if value is None or is_tracking_uri(value):
            return value
        return str(Path(value).expanduser().resolve())

    @field_validator("model", mode="before")
    @classmethod
    def _parse_model(cls, value: object) -> ModelType:
        return runnable_model(value)

    @model_validator(mode="after")
    def _task_settings(self) -> RunConfig:
        """Classification-only options are refused in a RUL run, and the other way round."""
        if self.data.task == "rul":
            # values, not "was it set": a run's config.toml holds every field
            if self.class_weighting != "balanced":
                raise ValueError("class_weighting is a classification option (a RUL target "
                                 "has no classes): leave it out with task = 'rul'")
            if self.dp == "sample":
                raise ValueError("dp 'sample' (DP-SGD) trains with cross-entropy: a RUL run "
                                 "can use dp 'client' (update clipping is task-agnostic)")
            if self.engine == "flower" and self.model is not ModelType.XGBOOST:
                # trees need neither: the objective travels in each boosting message's params
                raise ValueError("engine 'flower' does not carry a RUL run's target scale and "
                                 "loss to its clients yet: use engine 'inprocess' with "
                                 "task = 'rul' (or model 'xgboost')")
            if self.attack == "label-flip":
                raise ValueError("attack 'label-flip' flips class labels: a RUL target has "
                                 "none (use sign-flip, gaussian, scaling, alie or ipm)")
        elif self.rul_loss != "mse":
            raise ValueError("rul_loss needs task = 'rul' (--task rul)")
        return self

    @model_validator(mode="after")
    def _attack_settings(self) -> RunConfig:
        if (self.attack is None) != (self.attackers == 0):
            raise ValueError("attack and attackers go together: name an attack and give "
                             f"attackers >= 1 (got attack={self.attack!r}, "
                             f"attackers={self.attackers})")
        if self.attack is None and self.attack_options:
            raise ValueError("attack_options need an attack")
        if self.attack is not None:
            from networkfed.federated.attacks import check_attack_options

            check_attack_options(self.attack, self.attack_options)
        return self

    @model_validator(mode="after")
    def _tree_settings(self) -> RunConfig:
        from networkfed.trees.config import check_tree_settings

        # Frozen: xgboost's own defaults (strategy, class weighting, local rounds) where none
        # were given, set before anyone reads them; settings trees cannot use are refused.
        for key, value in check_tree_settings(self).items():
            object.__setattr__(self, key, value)
        return self

    @model_validator(mode="after")
    def _model_window(self) -> RunConfig:
        # Frozen: set once here, before anyone can read the unresolved value.
        object.__setattr__(self, "data", with_model_window(self.data, self.model))
        return self


_TRACKING_SCHEMES = ("databricks", "sqlite", "postgresql", "mysql", "mssql", "file", "http",
                     "https")


def is_tracking_uri(value: str) -> bool:
    """Whether an ``mlflow`` setting is a URI for MLflow (else: a local folder)."""
    return "://" in value or value.split(":", 1)[0].split("+", 1)[0] in _TRACKING_SCHEMES


def runnable_model(value: object) -> ModelType:
    """The model type ``value`` names, if one is registered (built in, or a user's registered
    ``custom`` model); an unknown name lists only the models that can run, not every enum
    member."""
    try:
        parsed = ModelType.parse(value)  # type: ignore[arg-type]
    except ValueError:
        parsed = None
    if parsed is ModelType.XGBOOST:  # trees: not a torch module, so not in the registry
        return parsed
    if parsed is None or parsed not in list_models():
        runnable = ", ".join(repr(str(key)) for key in [*list_models(), ModelType.XGBOOST])
        raise ValueError(f"unknown model type {value!r}; the models that can run are {runnable}")
    return parsed


def with_model_window(data: DataConfig, model: ModelType) -> DataConfig:
    """``data`` with the model's default window length where the user gave none.

    Why per model: the design document builds the CNN for tabular data (one row, its
    features read as a signal) and the LSTM and hybrid for 10-step windows. On the built-in
    telemetry the CNN on rows predicts as well (eight seeds of the default run: PR-AUC 0.654
    on rows against 0.629 on 10-step windows, higher on six; F1 0.581 against 0.573) and
    trains on about nine times fewer FLOPs per example.
    """
    if model is ModelType.XGBOOST:  # trees read rows unless a window is asked for
        return data.with_default_sequence_length(1)
    if model not in list_models():  # a user type not registered here: building it will say so
        return data
    # Where the split turns out to deal single rows (AI4I, a CSV without machines), loading
    # reads this default as rows (:func:`networkfed.data.pipeline.fit_window_to_split`).
    return data.with_default_sequence_length(get_model_entry(model).default_window_length())
