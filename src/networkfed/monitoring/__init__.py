"""Watching a federated run: the training monitor, run-folder reports and plots."""

from networkfed.monitoring.monitor import ModelPerformanceMonitor, parameter_norm

__all__ = ["ModelPerformanceMonitor", "parameter_norm"]
