"""``ModelWrapper``: any ``nn.Module`` seen through the federated ``ModelInterface``.

Parameters travel as full ``state_dict`` mappings (weights and buffers, e.g. BatchNorm
running statistics), detached CPU copies, so what a site sends can never alias its live model.
Replacing them is all-or-nothing and in place, so an optimizer built on the model keeps
pointing at the live tensors after a new global model arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from networkfed.core.enums import ModelType
from networkfed.core.errors import InvalidParametersError
from networkfed.core.interfaces import ModelInterface

__all__ = ["ModelWrapper"]


class ModelWrapper(ModelInterface):
    """Adapt a PyTorch module to :class:`ModelInterface`.

    Parameters
    ----------
    model
        The module to wrap; available as ``.model``.
    model_type, config
        How the module was built (``ModelFactory`` fills them in): the registry key and
        ``{"input_dim", "num_classes", "overrides"}``. ``ModelManager`` stores them so a new
        manager can rebuild the model; both stay ``None`` for a hand-made module.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        model_type: ModelType | str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"ModelWrapper wraps a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.model_type = model_type
        self.config = dict(config) if config is not None else None

    # --- ModelInterface --------------------------------------------------------------------
    def get_parameters(self) -> dict[str, Tensor]:
        """Return the full state (parameters and buffers) as detached CPU clones, in order."""
        return OrderedDict(
            (name, tensor.detach().to("cpu", copy=True))
            for name, tensor in self.model.state_dict().items()
        )

    def set_parameters(self, params: Mapping[str, Tensor | np.ndarray]) -> None:
        """Copy ``params`` into the model in place, all or nothing.

        Values are cast to each target's dtype, so integer buffers such as
        ``num_batches_tracked`` stay integers even after averaging.

        Raises
        ------
        InvalidParametersError
            (a ``ValueError``) for missing or unexpected keys, wrong shapes, values that are
            not tensors, or non-finite values; the message names the keys and the model is
            left unchanged.
        """
        targets = self.model.state_dict(keep_vars=True)
        values = _validated(targets, params)
        with torch.no_grad():
            for name, value in values.items():
                targets[name].copy_(value)

    def forward(self, x: Tensor) -> Tensor:
        """Return the wrapped module's logits."""
        return self.model(x)

    # --- nn.Module pass-through --------------------------------------------------------------
    def __call__(self, x: Tensor) -> Tensor:
        return self.model(x)

    def train(self, mode: bool = True) -> ModelWrapper:
        self.model.train(mode)
        return self

    def eval(self) -> ModelWrapper:
        self.model.eval()
        return self

    def to(self, *args: Any, **kwargs: Any) -> ModelWrapper:
        self.model.to(*args, **kwargs)
        return self

    @property
    def training(self) -> bool:
        return self.model.training

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        return self.model.parameters(recurse)

    def named_parameters(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, nn.Parameter]]:
        return self.model.named_parameters(*args, **kwargs)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.model.state_dict(*args, **kwargs)

    # --- conveniences ----------------------------------------------------------------------
    def num_parameters(self) -> int:
        """Trainable parameter count (what one site sends per round, buffers aside)."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def predict_proba(self, x: Tensor, batch_size: int = 4096) -> Tensor:
        """Class probabilities ``(batch, num_classes)`` in evaluation mode, without gradients.

        The module's previous train/eval mode is restored afterwards.
        """
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                chunks = [
                    torch.softmax(self.model(x[start : start + batch_size]), dim=-1)
                    for start in range(0, int(x.shape[0]), batch_size)
                ]
        finally:
            self.model.train(was_training)
        return torch.cat(chunks) if chunks else torch.empty(0)

    def __repr__(self) -> str:
        kind = f"{self.model_type!s}, " if self.model_type is not None else ""
        return f"ModelWrapper({kind}{type(self.model).__name__}, {self.num_parameters()} params)"


def _validated(targets: Mapping[str, Tensor], params: Mapping[str, Any]) -> dict[str, Tensor]:
    """Check every key, type, shape and value before anything is copied."""
    if not isinstance(params, Mapping):
        raise TypeError(f"parameters must be a mapping of name -> tensor, got {type(params)}")
    missing = [name for name in targets if name not in params]
    unexpected = [str(name) for name in params if name not in targets]
    values: dict[str, Tensor] = {}
    not_tensors, shapes, non_finite = [], [], []
    for name, value in params.items():
        if name not in targets:
            continue
        if isinstance(value, np.ndarray | np.generic):
            value = torch.from_numpy(np.asarray(value))
        if not isinstance(value, Tensor):
            not_tensors.append(name)
        elif value.shape != targets[name].shape:
            shapes.append((name, tuple(targets[name].shape), tuple(value.shape)))
        elif value.is_floating_point() and not bool(torch.isfinite(value).all()):
            non_finite.append(name)
        else:
            values[name] = value
    if missing or unexpected or not_tensors or shapes or non_finite:
        raise InvalidParametersError(
            missing=missing,
            unexpected=unexpected,
            shapes=shapes,
            non_finite=non_finite,
            not_tensors=not_tensors,
        )
    return values
