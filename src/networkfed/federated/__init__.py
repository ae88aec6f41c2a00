"""Federated learning: local training, update validation, aggregation strategies, the round loop."""
