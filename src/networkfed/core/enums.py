"""Model types, accepted everywhere as the enum member or its string value."""

from __future__ import annotations

from enum import Enum


class ModelType(str, Enum):
    """The architectures NetworkFed knows by name.

    ``CUSTOM`` is the slot the design document reserves for a user's own registered model.
    """

    CNN = "cnn"
    LSTM = "lstm"
    HYBRID = "hybrid"
    CUSTOM = "custom"
    XGBOOST = "xgboost"
    """Federated gradient-boosted trees (:mod:`networkfed.trees`), not a torch module."""

    @classmethod
    def parse(cls, value: ModelType | str) -> ModelType:
        """Normalise a member or a (case-insensitive) string; the one place types are parsed.

        Raises
        ------
        ValueError
            If ``value`` names no model type; the message lists the valid ones.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        valid = ", ".join(repr(member.value) for member in cls)
        raise ValueError(f"unknown model type {value!r}; valid types are {valid}")

    def __str__(self) -> str:
        return self.value
