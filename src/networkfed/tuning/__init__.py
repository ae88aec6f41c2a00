"""Hyperparameter tuning ("Step 1A"): Optuna studies whose trials are federated simulations.

``networkfed tune`` drives :func:`~networkfed.tuning.study.run_study`; its result,
``best_hyperparameters.json``, feeds ``networkfed simulate --hparams FILE``
(:mod:`networkfed.tuning.hparams`).
"""

from networkfed.tuning.hparams import apply_hparams, hparams_updates, load_hparams_file
from networkfed.tuning.search_space import TrialHyperparameters, suggest_hyperparameters
from networkfed.tuning.study import StudySettings, open_study, run_study

__all__ = [
    "StudySettings",
    "TrialHyperparameters",
    "apply_hparams",
    "hparams_updates",
    "load_hparams_file",
    "open_study",
    "run_study",
    "suggest_hyperparameters",
]
