"""What the quality benchmark runs: the measurement protocols of issue #7, as data.

Each :class:`Experiment` is one federated run (one model, one strategy, one seed) on one
protocol's data; with ``baselines`` it also trains the centralized and local-only models on
the same rows. :func:`plan` lists every experiment of a full (or ``--quick``) benchmark.

Protocols
---------
AI4I 2020
    Rows (``sequence_length=1``: the file is one process stream, not per-machine series).
    Per seed one stratified split drawn over all 10,000 rows before any partition
    (``split_scope="pooled"``): 20 % test, never resampled, the same for every partition,
    model and mode of that seed; 15 % of all rows (18.75 % of the training rows) are carved
    out as validation, where the alarm threshold is chosen. The failure-mode columns
    (TWF, HDF, PWF, OSF, RNF) are never inputs. Sites: the product types L / M / H, and a
    Dirichlet(0.5) label skew over five sites. Tuned LSTM and hybrid runs see seven features
    with bin columns (:data:`AI4I_TUNED_FEATURES`); the CNN and the defaults the ten.
C-MAPSS
    Label "fails within 30 cycles"; FD001-FD004 as four sites; training engines split into
    train / validation by engine; test = the official test files scored on each test
    engine's last window. Windows of 19 cycles (the shortest test engine), every 8th
    training window. FD001 alone is also run (one site, so its one-site federation is
    centralized training), with windows of 30 cycles and every 2nd training window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from networkfed.data import DataConfig
from networkfed.federated.config import RunConfig

__all__ = ["AI4I_SEEDS", "CMAPSS_SEEDS", "TUNED", "Experiment", "plan"]

AI4I_SEEDS = (0, 1, 2, 3, 4)
CMAPSS_SEEDS = (0, 1)
MODELS = ("cnn", "lstm", "hybrid")

CMAPSS_SEQUENCE_LENGTH = 19
"""The shortest official test engine (FD004) has 19 cycles: a longer window would drop test
engines from the score (17 of FD002/FD004 at 30)."""
FD001_SEQUENCE_LENGTH = 30
"""FD001's shortest test engine has 31 cycles, so FD001 alone can use the common 30."""
CMAPSS_TRAIN_STRIDE = 8
"""Every 8th training window of FD001-FD004: neighbouring windows share 18 of 19 rows, so
this cuts training time by 8 and loses little; validation and test windows are all kept."""

FD001_TRAIN_STRIDE = 2

AI4I_TUNED: dict[str, Any] = {
    "rounds": 45,
    "local_epochs": 3,
    "class_weighting": "none",
    "hparams": {"batch_size": 256, "learning_rate": 0.003, "weight_decay": 0.0,
                "step_size": 15, "gamma": 0.7},
    "per_model": {
        model: {"rounds": 60, "hparams": {"batch_size": 256, "learning_rate": 0.003,
                                          "weight_decay": 0.0, "step_size": 20, "gamma": 0.7}}
        for model in ("lstm", "hybrid")
    },
}
"""Plain cross-entropy, the learning rate times 0.7 every third of the run: the best
validation F1 of the pilots (docs/benchmarks/quality-pilots.md). The alarm threshold chosen on
validation data already corrects for the 3 % failure rate; balanced weights (a failure
weighs ~28 healthy rows) gave the lowest validation F1 of the three weightings for every
model. The LSTM and the hybrid train 60 rounds (validation F1 of the federated model, product
type, seeds 0-4: LSTM 0.764 / 0.789 / 0.798 / 0.790 at 30 / 45 / 60 / 90 rounds, hybrid
0.627 / 0.711 at 30 / 60). The CNN trains 45 (validation F1 at 30 / 45 rounds: FedAvg on
product type 0.663 / 0.672, FedBN on product type 0.739 / 0.742 and on Dirichlet sites
0.724 / 0.759); 60 would take the benchmark past its 45 minutes (the CNN's AI4I runs are
about half of its time)."""
CMAPSS_TUNED: dict[str, Any] = {
    "rounds": 6,
    "local_epochs": 1,
    "hparams": {"batch_size": 256, "learning_rate": 0.002, "weight_decay": 0.0,
                "step_size": 4, "gamma": 0.5},
}
FD001_TUNED: dict[str, Any] = {
    "rounds": 10,
    "local_epochs": 1,
    "class_weighting": "sqrt",
    "hparams": {"batch_size": 256, "learning_rate": 0.002, "weight_decay": 0.0,
                "step_size": 5, "gamma": 0.5},
}
"""Square-root class weights: the best validation F1 of the FD001 pilot (seeds 0-4)."""
TUNED = {"ai4i2020": AI4I_TUNED, "cmapss": CMAPSS_TUNED, "cmapss-fd001": FD001_TUNED}
"""Settings found by the pilot runs recorded in docs/benchmarks/quality-pilots.md; the
learning rate steps down (StepLR) once per round; ``class_weighting`` is ``balanced`` unless
given."""

DEFAULTS: dict[str, Any] = {"rounds": 10, "local_epochs": 3, "hparams": {}}
"""The documented defaults: 10 rounds, 3 local epochs, each model's tuned training config
(batch 32 / 16 / 16, learning rate 5e-4 / 5e-4 / 1e-3, weight decay 1e-4), balanced class
weights."""
DEFAULT_SEEDS = (0, 1, 2)
"""The defaults are a reference beside the tuned settings; three seeds keep the run short."""

BEST_OTHER_STRATEGY: dict[str, tuple[str, dict[str, float]]] = {
    "ai4i2020": ("fedprox", {"proximal_mu": 0.01}),
    "cmapss": ("fedprox", {"proximal_mu": 0.01}),
}
"""The strongest non-FedAvg strategy of the AI4I pilot (LSTM, product-type sites, seeds 0-2,
docs/benchmarks/quality-pilots.md): FedProx(0.01) and FedAvgM(0.5) tied on F1 (0.661), FedAdam
and FedYogi (server learning rate 0.003) fell far behind. FedAvgM is not used: its server
momentum also moves BatchNorm running variances, which went negative for the CNN and the
hybrid on C-MAPSS (the model then predicts NaN). C-MAPSS uses the same choice."""


FEDBN, FEDPER, FEDBN_FEDPER = "fedavg+fedbn", "fedavg+fedper", "fedavg+fedbn+fedper"
PER_SITE_LAYERS: dict[str, tuple[str, str]] = {
    "cnn": (FEDBN, "fedbn"), "hybrid": (FEDBN, "fedbn"), "lstm": (FEDPER, "fedper")}
"""Each model's FedAvg with layers kept per site (label, ``RunConfig`` switch): BatchNorm for
the models that have it (FedBN: on AI4I's one-type sites the lever for their gap to
centralized training, docs/benchmarks/quality-pilots.md, fourth round), the output layer for
the LSTM (FedPer: under Dirichlet label skew, fifth round)."""
BOTH_ON_AI4I = ("cnn", "hybrid")
"""Models that also run FedBN and FedPer together on AI4I (the fifth round's Dirichlet pilot:
CNN 0.684 -> 0.716 F1, hybrid 0.648 -> 0.661); not on C-MAPSS, where FedBN alone did not
help and the subsets' failure rates are alike."""


@dataclass(frozen=True)
class Experiment:
    """One run: ``label`` groups seeds of the same configuration in the results."""

    dataset: str
    partition: str
    model: str
    strategy: str
    settings: str
    seed: int
    run: RunConfig
    train_stride: int = 1
    classical: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> tuple[str, str, str, str, str]:
        return (self.dataset, self.partition, self.model, self.strategy, self.settings)

    @property
    def cost(self) -> float:
        """Rough relative run time, to start the longest runs first."""
        epochs = self.run.rounds * self.run.local_epochs * (3 if self.run.baselines else 1)
        per_epoch = {"cmapss": 120.0, "cmapss-fd001": 60.0}.get(self.dataset, 1.0)
        per_epoch /= self.train_stride
        return epochs * per_epoch * {"cnn": 2.0, "lstm": 0.7}.get(self.model, 1.0)


AI4I_TUNED_FEATURES = (
    "rotational_speed_rpm", "torque_nm", "tool_wear_min", "product_quality",
    "temperature_difference_k", "mechanical_power_w", "torque_wear_min_nm",
)
"""The tuned AI4I inputs: the default ten without the absolute air and process temperatures
(they drift slowly along the file and stand in for time) and the heat-dissipation index."""
AI4I_TUNED_BINS = 4
"""Up to four piecewise-linear bin columns per feature (``DataConfig.feature_bins``)."""
AI4I_BINNED_MODELS = ("lstm", "hybrid")
"""Models whose tuned AI4I runs see :data:`AI4I_TUNED_FEATURES` with bins (34 inputs). The
CNN keeps the ten default features: it flattens a window into one signal and convolves along
it, so 34 inputs make its training step 2.5x slower, and its AI4I runs (half of the
benchmark's time already) would take the benchmark past its 45 minutes
(docs/benchmarks/quality-pilots.md, sixth round of pilots, has the CNN with bins)."""


def ai4i_data(path: Path, partition: str, *, tuned: bool = False) -> DataConfig:
    """AI4I rows, pooled stratified 80/20 split (validation carved from the 80 %); ``tuned``
    uses :data:`AI4I_TUNED_FEATURES` with :data:`AI4I_TUNED_BINS` bin columns each."""
    sites = {"dirichlet": {"partition": "dirichlet", "num_sites": 5, "dirichlet_alpha": 0.5}}
    inputs = {"features": AI4I_TUNED_FEATURES, "feature_bins": AI4I_TUNED_BINS} if tuned else {}
    return DataConfig(
        dataset="ai4i2020", data_path=path, sequence_length=1, split="stratified",
        split_scope="pooled", test_fraction=0.2, val_fraction=0.15,
        **sites.get(partition, {"partition": "natural"}), **inputs,
    )


def cmapss_data(path: Path, subsets: tuple[str, ...], sequence_length: int) -> DataConfig:
    """C-MAPSS windows, label = fails within 30 cycles, official test files."""
    return DataConfig(
        dataset="cmapss", data_path=path, subsets=subsets, horizon=30,
        sequence_length=sequence_length, val_fraction=0.15,
    )


def _run_config(
    data: DataConfig, model: str, seed: int, settings: dict[str, Any], *, strategy: str,
    options: dict[str, float], baselines: bool, min_fit_clients: int,
) -> RunConfig:
    return RunConfig(
        data=data, model=model, seed=seed, rounds=settings["rounds"],
        local_epochs=settings["local_epochs"], hparams=dict(settings["hparams"]),
        class_weighting=settings.get("class_weighting", "balanced"),
        strategy=strategy, strategy_options=dict(options), baselines=baselines,
        min_fit_clients=min_fit_clients, workers=0,
    )


def _federation(
    dataset: str, partition: str, data_of: DataConfig | dict[str, DataConfig],
    seeds: tuple[int, ...], settings_name: str, settings: dict[str, Any], *,
    other_strategy: bool, stride: int = 1,
) -> list[Experiment]:
    """FedAvg with baselines (and the classical reference), plus the best other strategy and
    FedAvg with each model's layers kept per site (:data:`PER_SITE_LAYERS`); ``data_of`` is
    one data configuration or one per model."""
    strategies = [("fedavg", {}, True)]
    if other_strategy:
        name, options = BEST_OTHER_STRATEGY[dataset.split("-")[0]]
        strategies.append((name, options, False))
    experiments = []
    for model in MODELS:
        data = data_of[model] if isinstance(data_of, dict) else data_of
        for seed in seeds:
            for strategy, options, baselines in strategies:
                run = _run_config(data, model, seed, _for_model(settings, model),
                                  strategy=strategy, options=options, baselines=baselines,
                                  min_fit_clients=2)
                experiments.append(Experiment(
                    dataset, partition, model, strategy, settings_name, seed, run,
                    train_stride=stride, classical=baselines and model == MODELS[0],
                ))
            if other_strategy:
                label, switch = PER_SITE_LAYERS[model]
                run = _run_config(data, model, seed, _for_model(settings, model),
                                  strategy="fedavg", options={}, baselines=False,
                                  min_fit_clients=2).model_copy(update={switch: True})
                experiments.append(Experiment(dataset, partition, model, label, settings_name,
                                              seed, run, train_stride=stride))
            if other_strategy and dataset == "ai4i2020" and model in BOTH_ON_AI4I:
                run = _run_config(data, model, seed, _for_model(settings, model),
                                  strategy="fedavg", options={}, baselines=False,
                                  min_fit_clients=2)
                run = run.model_copy(update={"fedbn": True, "fedper": True})
                experiments.append(Experiment(dataset, partition, model, FEDBN_FEDPER,
                                              settings_name, seed, run, train_stride=stride))
    return experiments


def plan(data_dir: Path, *, quick: bool = False, only: str | None = None) -> list[Experiment]:
    """Every experiment of the benchmark; ``quick`` keeps one seed and few rounds."""
    ai4i_path, cmapss_path = data_dir / "ai4i2020" / "ai4i2020.csv", data_dir / "cmapss"
    ai4i_seeds, cmapss_seeds = (AI4I_SEEDS[:1], CMAPSS_SEEDS[:1]) if quick else (
        AI4I_SEEDS, CMAPSS_SEEDS)
    ai4i, cmapss = _shortened(AI4I_TUNED, quick), _shortened(CMAPSS_TUNED, quick)
    default_seeds = ai4i_seeds[:1] if quick else DEFAULT_SEEDS
    experiments: list[Experiment] = []
    if only in (None, "ai4i2020"):
        for partition in ("product_type", "dirichlet"):
            data_of = {model: ai4i_data(ai4i_path, partition, tuned=model in AI4I_BINNED_MODELS)
                       for model in MODELS}
            experiments += _federation("ai4i2020", partition, data_of, ai4i_seeds, "tuned", ai4i,
                                       other_strategy=True)
        defaults = _federation("ai4i2020", "product_type", ai4i_data(ai4i_path, "natural"),
                               default_seeds, "default", _shortened(DEFAULTS, quick),
                               other_strategy=False)
        experiments += [replace(e, run=e.run.model_copy(update={"baselines": False}),
                                classical=False) for e in defaults]
    if only in (None, "cmapss"):
        all_four = cmapss_data(cmapss_path, ("FD001", "FD002", "FD003", "FD004"),
                               CMAPSS_SEQUENCE_LENGTH)
        experiments += _federation("cmapss", "subsets", all_four, cmapss_seeds, "tuned",
                                   cmapss, other_strategy=True, stride=CMAPSS_TRAIN_STRIDE)
        fd001 = cmapss_data(cmapss_path, ("FD001",), FD001_SEQUENCE_LENGTH)
        experiments += _single_site("cmapss-fd001", fd001, cmapss_seeds,
                                    _shortened(FD001_TUNED, quick))
    return sorted(experiments, key=lambda e: -e.cost)


def _single_site(
    dataset: str, data: DataConfig, seeds: tuple[int, ...], settings: dict[str, Any]
) -> list[Experiment]:
    """One site: its federated run is centralized training; the mode says so."""
    return [
        Experiment(dataset, "single_site", model, "none", "tuned", seed,
                   _run_config(data, model, seed, settings, strategy="fedavg", options={},
                               baselines=False, min_fit_clients=1),
                   train_stride=FD001_TRAIN_STRIDE, classical=model == MODELS[0],
                   extra={"mode": "centralized"})
        for model in MODELS for seed in seeds
    ]


def _for_model(settings: dict[str, Any], model: str) -> dict[str, Any]:
    """``settings`` with the model's own entries of ``per_model`` put over them."""
    merged = {key: value for key, value in settings.items() if key != "per_model"}
    return {**merged, **settings.get("per_model", {}).get(model, {})}


def _shortened(settings: dict[str, Any], quick: bool) -> dict[str, Any]:
    """``--quick``: at most 2 rounds of 1 local epoch (a smoke run, not a measurement)."""
    if not quick:
        return settings
    per_model = {model: {**own, "rounds": min(own.get("rounds", 2), 2)}
                 for model, own in settings.get("per_model", {}).items()}
    return {**settings, "rounds": min(settings["rounds"], 2), "local_epochs": 1,
            "per_model": per_model}
