"""Export: ONNX and TorchScript files that output PyTorch's failure probabilities."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from networkfed.core.errors import ConfigError
from networkfed.data import load_federated_data
from networkfed.federated.config import RunConfig
from networkfed.serving import export as export_module
from networkfed.serving.checkpoint import load_served_model
from networkfed.serving.export import (
    INPUT_NAME,
    OUTPUT_NAME,
    PARITY_TOLERANCE,
    export_model,
    preprocessing_path_for,
)
from tiny_runs import make_run, tiny_data

MODELS = ("cnn", "lstm", "hybrid")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished one-round run per model."""
    root = tmp_path_factory.mktemp("export_runs")
    for model in MODELS:
        make_run(root / model, model=model, rounds=1)
    return {model: root / model for model in MODELS}


@pytest.fixture(scope="module")
def real_windows() -> dict[str, torch.Tensor]:
    """Every site's test windows of each model's run data (the CNN reads rows: 183 of them;
    the LSTM and hybrid 10-step windows: 105), odd batch sizes both."""
    windows = {}
    for model in MODELS:
        data = load_federated_data(RunConfig(data=tiny_data(), model=model).data, seed=7)
        windows[model] = torch.cat([site.test.x for site in data.sites.values()])
    return windows


def onnx_probabilities(path: Path, x: torch.Tensor) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_onnx_export_matches_pytorch_on_real_windows(
    model: str, runs: dict[str, Path], real_windows: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    # Prepare
    served = load_served_model(runs[model])
    windows = real_windows[model]

    # Execute
    result = export_model(served, tmp_path / f"{model}.onnx", "onnx")

    # Assert: probabilities, on batch sizes other than the export example's
    expected = served.predict_proba(windows)
    for batch in (windows[:1], windows):
        got = onnx_probabilities(result.path, batch)
        assert got.shape == (batch.shape[0],)
        np.testing.assert_allclose(got, expected[: batch.shape[0]], atol=PARITY_TOLERANCE, rtol=0)
    assert result.max_abs_difference <= PARITY_TOLERANCE
    assert np.all((expected >= 0) & (expected <= 1))


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("model", MODELS)
def test_torchscript_export_matches_pytorch_on_real_windows(
    model: str, runs: dict[str, Path], real_windows: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    # Prepare
    served = load_served_model(runs[model])
    windows = real_windows[model]

    # Execute
    result = export_model(served, tmp_path / f"{model}.pt", "torchscript")

    # Assert
    loaded = torch.jit.load(str(result.path))
    with torch.inference_mode():
        got = loaded(windows).double().numpy()
    np.testing.assert_allclose(got, served.predict_proba(windows), atol=PARITY_TOLERANCE)


def test_preprocessing_and_threshold_are_written_beside_the_model(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    # Prepare
    served = load_served_model(runs["cnn"])
    snapshot = json.loads((runs["cnn"] / "checkpoints/global/round_0001.json").read_text())

    # Execute
    result = export_model(served, tmp_path / "model.pt", "torchscript")

    # Assert
    side = json.loads(preprocessing_path_for(result.path).read_text())
    assert result.preprocessing_path == tmp_path / "model.pt.preprocessing.json"
    assert side["preprocessing"] == snapshot["extra"]["preprocessing"]
    assert side["threshold"] == snapshot["extra"]["threshold"]
    assert side["round"] == 1 and side["format"] == "torchscript"


@pytest.mark.slow
def test_legacy_onnx_exporter_is_the_fallback(
    runs: dict[str, Path], real_windows: dict[str, torch.Tensor], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prepare: the torch.export-based exporter fails
    def broken(*_: object) -> None:
        raise RuntimeError("dynamo export unavailable")

    monkeypatch.setattr(export_module, "_onnx_dynamo", broken)
    served = load_served_model(runs["lstm"])

    # Execute
    result = export_model(served, tmp_path / "lstm.onnx", "onnx")

    # Assert
    assert "legacy" in result.exporter
    got = onnx_probabilities(result.path, real_windows["lstm"])
    expected = served.predict_proba(real_windows["lstm"])
    np.testing.assert_allclose(got, expected, atol=PARITY_TOLERANCE)


@pytest.mark.slow
@pytest.mark.parametrize("bins", [0, 3], ids=["features", "features-and-bins"])
def test_guide_onnx_example_gives_the_runs_probabilities(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bins: int,
) -> None:
    # Prepare: raw (unstandardised) windows and model.onnx where the guide expects them
    data = tiny_data(feature_bins=bins)
    if bins:
        make_run(tmp_path / "run", data=data, rounds=1)
    served = load_served_model(tmp_path / "run" if bins else runs["cnn"])
    export_model(served, tmp_path / "model.onnx", "onnx")
    spec = served.preprocessing
    run_data = RunConfig(data=data, model="cnn").data  # the CNN's default: rows
    real_windows = torch.cat(
        [site.test.x for site in load_federated_data(run_data, 7).sites.values()]
    )
    assert real_windows.shape[-1] == spec.input_dim > (len(spec.feature_names) if bins else 0)
    features = real_windows[..., : len(spec.feature_names)].double().numpy()
    raw = features * np.array(spec.std) + np.array(spec.mean)
    page = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "predict-export.md"
    block = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)[0]
    monkeypatch.chdir(tmp_path)
    namespace = {"raw_windows": raw}

    # Execute
    exec(compile(block, "docs/user-guide/predict-export.md", "exec"), namespace)

    # Assert
    expected = served.predict_proba(real_windows)
    np.testing.assert_allclose(namespace["probability"], expected, atol=1e-5)
    clear = np.abs(expected - served.threshold) > 1e-5  # float32 may flip a tie, nothing else
    np.testing.assert_array_equal(namespace["alarm"][clear], (expected >= served.threshold)[clear])


def test_unknown_format_is_refused_and_nothing_is_written(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    # Prepare
    served = load_served_model(runs["cnn"])

    # Execute / Assert
    with pytest.raises(ConfigError, match="one of onnx, torchscript"):
        export_model(served, tmp_path / "model.tflite", "tflite")
    assert list(tmp_path.iterdir()) == []
