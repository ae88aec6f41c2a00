"""The contract every federated model satisfies, whatever its architecture."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor


class ModelInterface(ABC):
    """What the federated engine needs from a model: read, replace and run its state.

    Parameters travel as ``state_dict``-shaped mappings (name -> tensor), the same shape
    Flower's ``ArrayRecord`` carries, so no layer ever flattens them into anonymous lists.
    """

    @abstractmethod
    def get_parameters(self) -> dict[str, Tensor]:
        """Return a detached CPU copy of the full state (parameters and buffers)."""

    @abstractmethod
    def set_parameters(self, params: dict[str, Tensor]) -> None:
        """Replace the full state, all or nothing."""

    @abstractmethod
    def forward(self, x: Tensor) -> Tensor:
        """Return logits of shape ``(batch, num_classes)``."""
