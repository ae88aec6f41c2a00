"""The design document's ``models.model_factory`` module: factory, wrapper and manager.

Each lives in its own module (:mod:`~networkfed.models.factory`,
:mod:`~networkfed.models.wrapper`, :mod:`~networkfed.models.manager`); this one keeps the
document's import path working.
"""

from networkfed.models.factory import ModelFactory
from networkfed.models.manager import ModelManager
from networkfed.models.wrapper import ModelWrapper

__all__ = ["ModelFactory", "ModelManager", "ModelWrapper"]
