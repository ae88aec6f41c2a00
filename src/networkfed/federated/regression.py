"""Remaining-useful-life regression: the training step, predictions and metrics.

A RUL run (``DataConfig.task = "rul"``) gives each network one output (``num_classes = 1``).
The network learns the target divided by ``target_scale`` (the RUL cap, 125 cycles by
default): a freshly initialised network outputs values near 0, and asking it for ~100 on the
raw scale would spend the first epochs only moving the output bias. Predictions are the
output times ``target_scale``, in cycles again.

Scoring follows the C-MAPSS literature (Saxena et al. 2008): RMSE, MAE, the share of engines
predicted within +-10 cycles and the asymmetric NASA score ``sum(exp(-d/13) - 1)`` for early
(``d < 0``) and ``sum(exp(d/10) - 1)`` for late predictions, ``d = predicted - true``: a late
prediction (the engine fails before the planner expected) costs more than an early one. The
test split of C-MAPSS holds only each official test engine's last window, scored against
``RUL_FD00x.txt`` (the data layer cuts it so; :mod:`networkfed.data.assemble`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from networkfed.core.errors import TrainingError

__all__ = [
    "REGRESSION_KEYS",
    "RegressionStep",
    "RulLoss",
    "nasa_score",
    "predict_rul",
    "regression_metrics",
    "selection_score",
]

RulLoss = Literal["mse", "huber"]
REGRESSION_KEYS = ("loss", "rmse", "mae", "nasa_score", "within_10", "num_examples")
"""Metrics of a RUL split: ``loss`` is the mean squared error in cycles squared."""
WITHIN_CYCLES = 10
EVAL_BATCH_SIZE = 2048
NAN = float("nan")


class RegressionStep:
    """Forward, MSE or Huber loss on the scaled target, ``backward()``.

    Autograd through the module for every network: the hand-computed CNN step
    (:mod:`.fast_cnn`) computes cross-entropy gradients only, so a RUL run bypasses it.
    ``class_weights`` are accepted for the :class:`~.training_step.TrainingStep` protocol and
    ignored (a regression target has no classes).
    """

    def __init__(self, model: nn.Module, target_scale: float, loss: RulLoss = "mse") -> None:
        if target_scale <= 0:
            raise ValueError(f"target_scale must be > 0, got {target_scale}")
        self.model, self.scale, self.loss = model, float(target_scale), loss

    def __call__(self, x: Tensor, y: Tensor, class_weights: Tensor | None = None) -> Tensor:
        output = self.model(x)[:, 0]
        target = y.to(output.dtype) / self.scale
        loss_function = F.huber_loss if self.loss == "huber" else F.mse_loss
        loss = loss_function(output, target)
        loss.backward()
        return loss.detach()


def predict_rul(model: nn.Module, x: Tensor, target_scale: float) -> np.ndarray:
    """Predicted remaining life ``(n,)`` in cycles (eval mode, one thread, no gradients)."""
    from networkfed.federated.local_training import single_thread
    from networkfed.federated.training_step import inference_forward

    was_training = model.training
    model.eval()
    forward = inference_forward(model)
    try:
        with single_thread(), torch.inference_mode():
            chunks = [forward(x[start : start + EVAL_BATCH_SIZE])[:, 0]
                      for start in range(0, int(x.shape[0]), EVAL_BATCH_SIZE)]
    finally:
        model.train(was_training)
    if not chunks:
        return np.empty(0)
    predicted = torch.cat(chunks).double().numpy() * float(target_scale)
    if not np.isfinite(predicted).all():
        bad = int((~np.isfinite(predicted)).sum())
        raise TrainingError(f"{bad} non-finite predicted RUL values: the model has diverged")
    return predicted


def nasa_score(predicted: np.ndarray, true: np.ndarray) -> float:
    """The PHM08 / C-MAPSS scoring function, summed over engines (lower is better)."""
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def regression_metrics(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, NASA score, share within +-10 cycles, MSE (``loss``) and the count.

    Every value is NaN on an empty split (the count is 0)."""
    y = np.asarray(true, dtype=np.float64).reshape(-1)
    p = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} targets but {p.size} predictions")
    if y.size == 0:
        return {**dict.fromkeys(REGRESSION_KEYS, NAN), "num_examples": 0}
    error = p - y
    mse = float(np.mean(error**2))
    return {
        "loss": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(error))),
        "nasa_score": nasa_score(p, y),
        "within_10": float(np.mean(np.abs(error) <= WITHIN_CYCLES)),
        "num_examples": int(y.size),
    }


def selection_score(validation: Mapping[str, object]) -> object:
    """What the best round maximises: validation PR-AUC, or minus the RMSE of a RUL run."""
    if "rmse" in validation:
        rmse = validation["rmse"]
        return None if rmse is None else -float(rmse)  # type: ignore[arg-type]
    return validation.get("pr_auc")
