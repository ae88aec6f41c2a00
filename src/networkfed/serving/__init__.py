"""Using a trained run: predict on new files, export the model for the edge.

Both start from :func:`~networkfed.serving.checkpoint.load_served_model`, which rebuilds one
round's global model with the preprocessing and alarm threshold saved in its checkpoint.
"""

from networkfed.serving.checkpoint import ServedModel, load_served_model
from networkfed.serving.export import export_model
from networkfed.serving.predict import Prediction, predict_file, write_predictions
from networkfed.serving.test_rows import write_test_rows

__all__ = [
    "Prediction",
    "ServedModel",
    "export_model",
    "load_served_model",
    "predict_file",
    "write_predictions",
    "write_test_rows",
]
