"""Local training: what one site does with the global model in one round.

One implementation serves every engine: the in-process engine (in the main process or in
worker processes) and the Flower ``ClientApp`` call :meth:`SiteTrainer.fit` for one site at a
time. A site's result is a pure function of (global state, site data, training settings,
instructions, site id): shuffling and dropout draw from random streams seeded by
``(seed, site_id, round)`` and the work runs on one torch thread, so the same site trained
anywhere — alone, beside others, in another process — gives bit-identical parameters. That is
what makes runs reproducible, resumable and comparable across engines.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np
import torch
from torch import Tensor, nn

from networkfed.data.types import SplitTensors
from networkfed.federated.config import ClassWeighting
from networkfed.federated.fast_layers import use_fast_dropout
from networkfed.federated.optimizers import LocalOptimizer, make_optimizer, torch_optimizer
from networkfed.federated.packing import pack_state
from networkfed.federated.regression import RegressionStep, RulLoss, predict_rul
from networkfed.federated.training_step import TrainingStep, training_step
from networkfed.federated.types import SiteUpdate
from networkfed.models import ModelFactory, ModelWrapper
from networkfed.privacy.dp_sgd import DPSGDTrainer
from networkfed.privacy.mechanism import private_update

logger = logging.getLogger(__name__)

__all__ = [
    "FitInstructions",
    "ModelSpec",
    "SiteTrainer",
    "class_weights_from_counts",
    "flipped_labels",
    "label_counts",
    "round_learning_rate",
    "single_thread",
    "site_seed",
]


@dataclass(frozen=True)
class ModelSpec:
    """How to build the federation's model anywhere (a worker, a Flower client)."""

    model_type: str
    input_dim: int
    num_classes: int
    overrides: dict[str, Any] = field(default_factory=dict)
    target_scale: float = 1.0
    """One output (``num_classes == 1``, a RUL run): the network learns the target divided by
    this (the RUL cap), predictions are multiplied back (:mod:`.regression`)."""
    loss: RulLoss = "mse"
    """The regression loss of a one-output network (``mse`` or ``huber``)."""

    @property
    def regression(self) -> bool:
        return self.num_classes == 1

    def predict(self, model: nn.Module, x: Tensor) -> np.ndarray:
        """What evaluation scores: failure probabilities, or remaining life in cycles."""
        if self.regression:
            return predict_rul(model, x, self.target_scale)
        from networkfed.federated.evaluation import predict_failure

        return predict_failure(model, x)

    def build(self, seed: int | None = None) -> ModelWrapper:
        """A fresh model; ``seed`` makes its initial weights reproducible."""
        return ModelFactory.create_model(
            self.model_type, self.input_dim, self.num_classes, seed=seed, **self.overrides
        )


@dataclass(frozen=True)
class FitInstructions:
    """What the server sends each site with the global state for one round.

    ``class_weights`` come from label counts summed over all sites (no site sees another's
    labels); ``proximal_mu`` is FedProx's term (0 = plain local training); ``flip_labels``
    makes the site a simulated label-flipping attacker (:mod:`networkfed.federated.attacks`).
    """

    round_num: int
    local_epochs: int
    class_weights: tuple[float, ...]
    seed: int
    proximal_mu: float = 0.0
    flip_labels: bool = False
    dp_clip: float = 0.0
    """Client-level DP with ``--dp-side client``: the L2 bound of this site's update (0: the
    site sends its update as it is)."""
    dp_noise_sd: float = 0.0
    """The SD of the Gaussian noise the site adds to its clipped update (its share)."""
    dp_sample_clip: float = 0.0
    """Sample-level DP-SGD (``--dp sample``): the bound of each example's gradient (0: plain
    training)."""
    dp_sample_noise: float = 0.0
    """DP-SGD's noise multiplier: noise SD = it x ``dp_sample_clip`` on each step's sum."""

    def to_config(self) -> dict[str, Any]:
        """A flat, Flower ``ConfigRecord``-friendly dict (kebab-case keys)."""
        return {
            "round": self.round_num,
            "local-epochs": self.local_epochs,
            "class-weights": [float(w) for w in self.class_weights],
            "seed": self.seed,
            "proximal-mu": float(self.proximal_mu),
            "flip-labels": bool(self.flip_labels),
            "dp-clip": float(self.dp_clip),
            "dp-noise-sd": float(self.dp_noise_sd),
            "dp-sample-clip": float(self.dp_sample_clip),
            "dp-sample-noise": float(self.dp_sample_noise),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FitInstructions:
        """Inverse of :meth:`to_config`."""
        return cls(
            round_num=int(config["round"]),
            local_epochs=int(config["local-epochs"]),
            class_weights=tuple(float(w) for w in config["class-weights"]),
            seed=int(config["seed"]),
            proximal_mu=float(config.get("proximal-mu", 0.0)),
            flip_labels=bool(config.get("flip-labels", False)),
            dp_clip=float(config.get("dp-clip", 0.0)),
            dp_noise_sd=float(config.get("dp-noise-sd", 0.0)),
            dp_sample_clip=float(config.get("dp-sample-clip", 0.0)),
            dp_sample_noise=float(config.get("dp-sample-noise", 0.0)),
        )


def site_seed(seed: int, site_id: str, round_num: int, stream: str) -> int:
    """A 63-bit seed for one random ``stream`` of one site in one round.

    Hashing (rather than ``seed + round``) keeps the streams of different sites, rounds and
    purposes independent, and depends on nothing but its arguments.
    """
    digest = hashlib.sha256(f"{seed}|{site_id}|{round_num}|{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def label_counts(labels: Tensor, num_classes: int) -> list[int]:
    """What a site reports about its labels: a count per class, nothing else."""
    return torch.bincount(labels.long(), minlength=num_classes)[:num_classes].tolist()


def class_weights_from_counts(
    counts: Sequence[Sequence[int]], weighting: ClassWeighting = "balanced"
) -> tuple[float, ...]:
    """Class weights of the training loss from per-site label counts.

    ``balanced`` weighs each class by ``total / (classes * count)``, so both classes add the
    same to the loss and a rare failure class is not ignored; on AI4I (3 % failures) that
    weighs a failure ~28 times a healthy row, and the quality pilots
    (docs/benchmarks/quality-pilots.md) found it cost F1. ``sqrt`` takes the square root of the
    balanced weights, a middle ground; ``none``
    weighs every class 1 (plain cross-entropy): the alarm threshold, chosen on validation
    data, then does the correcting for the failure rate. The server sums the sites' counts,
    so the weights are those of the pooled data. A class no site has gets weight 0 (it
    cannot occur in any loss anyway).
    """
    if weighting not in get_args(ClassWeighting):
        raise ValueError(
            f"unknown class weighting {weighting!r}; choose one of "
            + ", ".join(get_args(ClassWeighting))
        )
    totals = [sum(column) for column in zip(*counts, strict=True)]
    grand_total, num_classes = sum(totals), len(totals)
    balanced = [grand_total / (num_classes * n) if n else 0.0 for n in totals]
    if weighting == "sqrt":
        return tuple(math.sqrt(w) for w in balanced)
    if weighting == "none":
        return tuple(1.0 if n else 0.0 for n in totals)
    return tuple(balanced)


def round_learning_rate(training: Mapping[str, Any], round_num: int) -> float:
    """StepLR stepped once per federated round: ``lr * gamma ** floor((round - 1) / step)``."""
    rate = float(training["learning_rate"])
    if training.get("scheduler", "StepLR") != "StepLR":
        return rate
    return rate * float(training["gamma"]) ** ((round_num - 1) // int(training["step_size"]))


@contextmanager
def single_thread() -> Iterator[None]:
    """Run on one torch thread, then restore the caller's setting.

    One thread is both the fastest setting for these small models on a busy machine and what
    makes results identical wherever a site trains (thread count changes float rounding).
    """
    previous = torch.get_num_threads()
    if previous != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if previous != 1:
            torch.set_num_threads(previous)


class SiteTrainer:
    """Trains a site's copy of the model from a global state; reused across sites and rounds.

    Parameters
    ----------
    spec
        The federation's model.
    training
        The model's training settings (:func:`networkfed.models.training_config`): batch size,
        optimiser, learning rate and schedule, weight decay, gradient clipping.
    """

    def __init__(self, spec: ModelSpec, training: Mapping[str, Any]) -> None:
        self.spec, self.training = spec, dict(training)
        self.wrapper = spec.build(seed=0)
        use_fast_dropout(self.wrapper.model)
        self._step: TrainingStep = (
            RegressionStep(self.wrapper.model, spec.target_scale, spec.loss)
            if spec.regression else training_step(self.wrapper.model)
        )
        """A mini-batch's loss and gradients (:func:`training_step`): by hand for the built-in
        CNN, autograd otherwise (through the rows forward for the built-in hybrid)."""
        self._params = [p for p in self.wrapper.model.parameters() if p.requires_grad]
        self._own_state = self.wrapper.model.state_dict()
        """Aliases of the model's parameters and buffers, for :meth:`load`."""
        self._loaded: Mapping[str, Tensor] | None = None
        """The state the model holds unchanged since :meth:`load` (None after training)."""
        self._dp_sgd: DPSGDTrainer | None = None
        """Opacus' twin of the model for ``--dp sample`` (made on first use)."""

    @property
    def model(self) -> nn.Module:
        return self.wrapper.model

    def load(self, state: Mapping[str, Tensor]) -> None:
        """Set the model to ``state``; a no-op when it already holds that very object.

        Copies tensor by tensor into the model's own storage: ``load_state_dict``'s generic
        machinery costs more than the copying for a site of a few windows (1,000-site runs).
        A state that does not fit (other keys, shapes or dtypes) goes through
        ``load_state_dict``, whose error names the mismatch.
        """
        if state is self._loaded:
            return
        own = self._own_state
        fits = state.keys() == own.keys() and all(
            state[k].shape == v.shape and state[k].dtype == v.dtype for k, v in own.items()
        )
        if not fits:
            self.model.load_state_dict(dict(state))
        else:
            with torch.no_grad():
                for key, target in own.items():
                    target.copy_(state[key])
        self._loaded = state

    def fit(
        self,
        global_state: Mapping[str, Tensor],
        train: SplitTensors,
        site_id: str,
        instructions: FitInstructions,
    ) -> SiteUpdate:
        """Train ``local_epochs`` on ``train`` from ``global_state``; return the new state."""
        if len(train) == 0:
            raise ValueError(f"site {site_id!r} has no training windows")
        if instructions.flip_labels:
            train = flipped_labels(train, self.spec.num_classes)
        seed, round_num = instructions.seed, instructions.round_num
        with single_thread(), torch.random.fork_rng(devices=[]):
            # The CPU generator alone: ``torch.manual_seed`` also queues a seed for every
            # accelerator backend, recording a stack trace each time (~0.5 ms a site).
            torch.default_generator.manual_seed(site_seed(seed, site_id, round_num, "dropout"))
            order = torch.Generator().manual_seed(site_seed(seed, site_id, round_num, "shuffle"))
            self.load(global_state)
            self._loaded = None  # training changes the weights
            if instructions.dp_sample_clip > 0:  # DP-SGD: Opacus, not the hand-computed step
                noise = torch.Generator().manual_seed(
                    site_seed(seed, site_id, round_num, "dp-sgd"))
                mean_loss = self._train_dp_sgd(train, instructions, order, noise)
            else:
                mean_loss = self._train_epochs(train, instructions, order)
            state, extra = self._outgoing(global_state, site_id, instructions)
        metrics = {"train_loss": mean_loss, "learning_rate": self._learning_rate(round_num),
                   **extra}
        return SiteUpdate(site_id, state, num_examples=len(train), metrics=metrics)

    def _outgoing(
        self, global_state: Mapping[str, Tensor], site_id: str, instructions: FitInstructions
    ) -> tuple[dict[str, Tensor], dict[str, float]]:
        """The state to send, packed (a copy the server reads fast), and extra metrics; under
        client-side DP clipped and noised here, so the raw update never leaves the site (the
        server only learns whether it had to be clipped)."""
        state: Mapping[str, Tensor] = self.model.state_dict()
        if instructions.dp_clip <= 0:
            return pack_state(state), {}
        noise = torch.Generator().manual_seed(
            site_seed(instructions.seed, site_id, instructions.round_num, "dp-noise"))
        sent, clipped = private_update(global_state, state, instructions.dp_clip,
                                       instructions.dp_noise_sd, noise)
        return pack_state(sent), {"dp_clipped": float(clipped)}

    def _learning_rate(self, round_num: int) -> float:
        return round_learning_rate(self.training, round_num)

    def _train_epochs(
        self, train: SplitTensors, instructions: FitInstructions, order: torch.Generator
    ) -> float:
        """The epochs themselves; returns the mean (class-weighted) training loss."""
        params, step = self._params, self._step
        self.model.train()
        optimizer = self._optimizer(instructions.round_num)
        weights = torch.tensor(instructions.class_weights, dtype=torch.float32)
        class_weights = weights if weights.sum() > 0 else None
        anchor = [p.detach().clone() for p in params] if instructions.proximal_mu > 0 else None
        clip = self.training.get("gradient_clipping")
        total, seen = 0.0, 0
        for _ in range(instructions.local_epochs):
            for x, y in shuffled_batches(train, int(self.training["batch_size"]), order):
                optimizer.zero_grad(set_to_none=True)
                loss = step(x, y, class_weights)
                if anchor is not None:
                    _add_proximal_gradient(params, anchor, instructions.proximal_mu)
                if clip:
                    nn.utils.clip_grad_norm_(params, float(clip), foreach=True)
                optimizer.step()
                total += float(loss) * len(y)
                seen += len(y)
        mean = total / max(seen, 1)
        if not math.isfinite(mean):
            logger.warning("training loss became %s; the update will be rejected", mean)
        return mean

    def _train_dp_sgd(
        self, train: SplitTensors, instructions: FitInstructions, order: torch.Generator,
        noise: torch.Generator,
    ) -> float:
        """The epochs under sample-level DP (:class:`~networkfed.privacy.dp_sgd.DPSGDTrainer`):
        per-example clipping and noise on every step; the configured gradient clipping and
        the proximal term do not apply (DP clipping replaces the one; the other is refused)."""
        if self._dp_sgd is None:  # building draws random numbers: not from this fit's streams
            with torch.random.fork_rng(devices=[]):
                self._dp_sgd = DPSGDTrainer(self.spec.build(seed=0).model)
        weights = torch.tensor(instructions.class_weights, dtype=torch.float32)
        batch_size = int(self.training["batch_size"])
        return self._dp_sgd.train(
            self.model, lambda: shuffled_batches(train, batch_size, order),
            epochs=instructions.local_epochs,
            class_weights=weights if weights.sum() > 0 else None,
            optimizer=functools.partial(
                torch_optimizer, self.training.get("optimizer", "Adam"),
                lr=self._learning_rate(instructions.round_num),
                weight_decay=float(self.training.get("weight_decay", 0.0))),
            noise_multiplier=instructions.dp_sample_noise, clip=instructions.dp_sample_clip,
            batch_size=batch_size, generator=noise,
        )

    def _optimizer(self, round_num: int) -> LocalOptimizer:
        """A fresh optimiser each round (sites keep no state between rounds)."""
        return make_optimizer(
            self.training.get("optimizer", "Adam"), self._params,
            lr=self._learning_rate(round_num),
            weight_decay=float(self.training.get("weight_decay", 0.0)),
        )


def flipped_labels(split: SplitTensors, num_classes: int) -> SplitTensors:
    """``split`` with every label ``y`` replaced by ``num_classes - 1 - y`` (a label-flipping
    attacker's training data: failures become healthy and the other way round)."""
    return SplitTensors(split.x, (num_classes - 1) - split.y, split.machine_ids)


def shuffled_batches(
    split: SplitTensors, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch's mini-batches ``(x, y)`` in :func:`batch_indices` order.

    The split is gathered in shuffled order once and the batches are slices of it: one
    indexing operation an epoch instead of two a step (~13 µs of a ~0.8 ms CNN step).
    """
    batches = batch_indices(len(split), batch_size, generator)
    order = torch.cat(batches)
    x, y = split.x[order], split.y[order]
    start = 0
    for batch in batches:
        stop = start + len(batch)
        yield x[start:stop], y[start:stop]
        start = stop


def batch_indices(n: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """One epoch's shuffled mini-batches; a last batch of one joins the one before.

    (BatchNorm cannot normalise a batch of one, and dropping it would lose an example.)
    """
    batches = list(torch.randperm(n, generator=generator).split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def _add_proximal_gradient(params: list[Tensor], anchor: list[Tensor], mu: float) -> None:
    """FedProx: the gradient of ``mu/2 * ||w - w_global||^2`` is ``mu * (w - w_global)``."""
    grads = [p.grad for p in params]
    if any(g is None for g in grads):
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        for p, g in zip(params, grads, strict=True):
            p.grad = g
    torch._foreach_add_(grads, torch._foreach_sub([p.detach() for p in params], anchor), alpha=mu)
