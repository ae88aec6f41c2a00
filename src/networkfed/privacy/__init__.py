"""Differential privacy: client-level DP-FedAvg with an ε that survives the run.

- :mod:`~networkfed.privacy.mechanism`: clipping and Gaussian noise on model updates (pure);
- :mod:`~networkfed.privacy.accounting`: Opacus' RDP accountant, checkpointed with the run;
- :mod:`~networkfed.privacy.client_dp`: the wrapper strategy that clips, noises and accounts;
- :mod:`~networkfed.privacy.setup`: a run's ``dp_*`` settings checked and turned into it.

Nothing is imported here: local training imports the mechanism, which must not pull in the
strategy layer above it.
"""
