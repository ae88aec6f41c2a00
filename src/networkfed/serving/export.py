"""Export a run's global model as a portable file that outputs failure probabilities.

Both formats take float32 windows ``(batch, sequence_length, n_features)`` with a dynamic batch
axis and return ``(batch,)`` failure probabilities (softmax inside the graph). The
preprocessing the model needs (feature order, standardisation statistics, sequence length,
alarm threshold) is written beside the model as ``FILE.preprocessing.json``, and every export
is checked against PyTorch on seeded inputs before the command reports success.

ONNX uses the ``torch.export``-based exporter and falls back to the TorchScript-based one if
that raises (both handle the three models with torch 2.13; the fallback keeps older or newer
torch versions working).

After a RUL run (``task = "rul"``) the output is ``remaining_life``, cycles per window
(:class:`~networkfed.serving.checkpoint.RemainingLife`).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from networkfed.core.errors import ConfigError
from networkfed.monitoring.files import atomic_path, atomic_write_text
from networkfed.serving.checkpoint import ServedModel, is_rul_spec

logger = logging.getLogger(__name__)

ExportFormat = Literal["onnx", "torchscript"]
EXPORT_FORMATS: tuple[str, ...] = ("onnx", "torchscript")
PARITY_TOLERANCE = 1e-5
INPUT_NAME, OUTPUT_NAME = "windows", "failure_probability"
RUL_OUTPUT_NAME = "remaining_life"
"""The output of a RUL run's export: remaining life in cycles (the cap inside the graph)."""
ONNX_OPSET = 18


@dataclass(frozen=True)
class ExportResult:
    """Where the model went and how closely it matches PyTorch."""

    path: Path
    preprocessing_path: Path
    export_format: str
    max_abs_difference: float
    exporter: str


def preprocessing_path_for(path: str | Path) -> Path:
    """``model.onnx`` -> ``model.onnx.preprocessing.json`` (beside the model)."""
    target = Path(path)
    return target.with_name(target.name + ".preprocessing.json")


def parse_format(value: str) -> ExportFormat:
    """Normalise a format name; unknown names raise ``ConfigError`` listing the valid ones."""
    key = str(value).strip().lower()
    if key not in EXPORT_FORMATS:
        raise ConfigError("format", value, "one of " + ", ".join(EXPORT_FORMATS))
    return key  # type: ignore[return-value]


def sample_windows(served: ServedModel, batch: int = 32, seed: int = 0) -> torch.Tensor:
    """Seeded standard-normal windows shaped like the model's input (inputs are standardised)."""
    spec = served.preprocessing
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec.sequence_length, spec.input_dim, generator=generator)


def export_model(served: ServedModel, path: str | Path, export_format: str) -> ExportResult:
    """Write ``served`` to ``path`` in ``export_format``, check parity, write the preprocessing.

    Raises
    ------
    ConfigError
        If the format is unknown or the exported file does not match PyTorch within
        :data:`PARITY_TOLERANCE` (nothing is left at ``path`` then).
    """
    target = Path(path)
    if getattr(served, "is_tree", False):  # an xgboost booster: ONNX or its native JSON
        return _export_tree(served, target, export_format)
    chosen = parse_format(export_format)
    with atomic_path(target) as temp:
        if chosen == "onnx":
            exporter = _export_onnx(served, temp)
            difference = onnx_parity(served, temp)
        else:
            exporter = _export_torchscript(served, temp)
            difference = torchscript_parity(served, temp)
        if not difference <= PARITY_TOLERANCE:
            raise ConfigError(
                "format", chosen, f"an export within {PARITY_TOLERANCE:g} of PyTorch "
                f"(max difference {difference:.3g}); please report this model"
            )
    document = {**served.preprocessing_document(), "format": chosen, "exporter": exporter}
    side = atomic_write_text(preprocessing_path_for(target), json.dumps(document, indent=2) + "\n")
    logger.info("exported round %d to %s (%s, max diff %.2g)", served.round_num, target, chosen,
                difference)
    return ExportResult(target, side, chosen, difference, exporter)


def _export_tree(served: ServedModel, target: Path, export_format: str) -> ExportResult:
    from networkfed.trees.serving import export_tree

    with atomic_path(target) as temp:
        exporter, difference = export_tree(served, temp, export_format)  # type: ignore[arg-type]
        if not difference <= PARITY_TOLERANCE:
            raise ConfigError("format", export_format, f"an export within {PARITY_TOLERANCE:g} "
                              f"of XGBoost (max difference {difference:.3g})")
    chosen = str(export_format).strip().lower()
    document = {**served.preprocessing_document(), "format": chosen, "exporter": exporter}
    side = atomic_write_text(preprocessing_path_for(target), json.dumps(document, indent=2) + "\n")
    return ExportResult(target, side, chosen, difference, exporter)


def onnx_parity(served: ServedModel, path: Path) -> float:
    """Largest absolute difference between onnxruntime and PyTorch on two batch sizes."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch, seed in ((7, 1), (33, 2)):  # batch sizes unlike the export example's
        x = sample_windows(served, batch, seed)
        (got,) = session.run([output_name(served)], {INPUT_NAME: x.numpy()})
        worst = max(worst, _max_difference(served, x, got))
    return worst


def torchscript_parity(served: ServedModel, path: Path) -> float:
    """Largest absolute difference between ``torch.jit.load`` and PyTorch on two batch sizes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path), map_location="cpu")
    worst = 0.0
    with torch.inference_mode():
        for batch, seed in ((7, 1), (33, 2)):
            x = sample_windows(served, batch, seed)
            worst = max(worst, _max_difference(served, x, loaded(x).numpy()))
    return worst


def output_name(served: ServedModel) -> str:
    """``failure_probability``, or ``remaining_life`` after a RUL run."""
    return RUL_OUTPUT_NAME if is_rul_spec(served.preprocessing) else OUTPUT_NAME


def _max_difference(served: ServedModel, x: torch.Tensor, got: np.ndarray) -> float:
    """Largest difference on the network's own scale: a RUL model's cycles are divided by
    the cap it multiplies by, so float32 rounding of ~100 cycles is not mistaken for a
    mismatch."""
    expected = served.predict_proba(x)
    if got.shape != expected.shape:
        return float("inf")
    scale = (float(served.preprocessing.source_options["rul_cap"])
             if is_rul_spec(served.preprocessing) else 1.0)
    return float(np.max(np.abs(got.astype(np.float64) - expected))) / scale


def _export_torchscript(served: ServedModel, path: Path) -> str:
    """Trace (not script): the models are static graphs, and tracing needs no annotations.

    torch 2.13 marks TorchScript deprecated (in favour of ``torch.export``) but it is still
    the format libtorch (C++) and older runtimes load; ONNX is the forward-looking format.
    """
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(served.module, sample_windows(served, batch=4), check_trace=False)
    traced.save(str(path))
    return "torch.jit.trace"


def _export_onnx(served: ServedModel, path: Path) -> str:
    try:
        _onnx_dynamo(served, path)
        return "torch.onnx.export (dynamo)"
    except Exception as error:  # the new exporter fails on some graphs/versions: fall back
        logger.warning("torch.export-based ONNX export failed (%s); using the legacy exporter",
                       error)
    _onnx_legacy(served, path)
    return "torch.onnx.export (legacy TorchScript-based)"


def _onnx_dynamo(served: ServedModel, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1)
    with _quiet():
        program = torch.onnx.export(
            served.module, (sample_windows(served, batch=4),), None, dynamo=True,
            input_names=[INPUT_NAME], output_names=[output_name(served)],
            dynamic_shapes={"x": {0: batch}}, opset_version=ONNX_OPSET, verbose=False,
        )
        program.save(str(path))


def _onnx_legacy(served: ServedModel, path: Path) -> None:
    axes = {INPUT_NAME: {0: "batch"}, output_name(served): {0: "batch"}}
    with _quiet():
        torch.onnx.export(
            served.module, (sample_windows(served, batch=4),), str(path), dynamo=False,
            input_names=[INPUT_NAME], output_names=[output_name(served)], dynamic_axes=axes,
            opset_version=ONNX_OPSET,
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' progress prints, registry notes and deprecation chatter (the
    CLI owns the terminal); real failures still raise."""
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        onnx_logger.setLevel(level)
