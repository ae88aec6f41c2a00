"""``predict`` and ``export`` for a tree run: one round's booster with its preprocessing.

:class:`TreeServedModel` reads like :class:`networkfed.serving.checkpoint.ServedModel` (same
fields, ``predict_proba`` on standardised windows), so ``predict_file`` and the CLI serve it
unchanged. Exports take the networks' input, float32 windows ``(batch, sequence_length,
n_features)``, and return ``(batch,)`` failure probabilities (``remaining_life`` in cycles
after a RUL run, ``reg:squarederror``): the ONNX graph computes the tree features (last step,
mean, slope) itself, then runs the ensemble converted by onnxmltools.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from networkfed.core.enums import ModelType
from networkfed.core.errors import ConfigError, RunFolderError
from networkfed.data.types import PreprocessingSpec
from networkfed.trees.booster import load_booster, predict_probability
from networkfed.trees.checkpoint import read_round, tree_rounds
from networkfed.trees.features import tree_features

logger = logging.getLogger(__name__)

__all__ = ["TREE_EXPORT_FORMATS", "TreeServedModel", "export_tree", "load_tree_model",
           "parse_tree_format"]

TREE_EXPORT_FORMATS = ("onnx", "json")
ONNX_ML_OPSET = 15
"""The highest opset onnxmltools' XGBoost converter supports (1.16)."""


@dataclass(frozen=True)
class TreeServedModel:
    """One round's global booster, ready for inference (see :class:`ServedModel`)."""

    run_dir: Path
    round_num: int
    preprocessing: PreprocessingSpec
    threshold: float
    booster: bytes = field(repr=False)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    site_id: str | None = None
    model_type: ModelType = ModelType.XGBOOST
    is_tree: bool = True

    def predict_proba(self, x: Tensor | np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Failure probability (remaining life in cycles after a RUL run) of every window in
        ``x`` ``(n, L, F)``, as float64."""
        return predict_probability(self.booster, tree_features(x))

    def preprocessing_document(self) -> dict[str, Any]:
        """What a consumer of an exported model needs beside it."""
        from networkfed.serving.checkpoint import served_model_document  # imports this module

        return served_model_document(
            self,
            "float32 windows of shape (batch, sequence_length, len(feature_names)), "
            "standardised with mean/std in feature order (the ONNX graph derives the trees' "
            "last-step, mean and slope features itself; the native JSON booster takes them "
            "already derived: see tree_features)",
            rul_output="remaining useful life per window, in cycles (trained on the target "
            "capped at rul_cap)")


def load_tree_model(folder: Path, round_num: int | None, site_id: str | None) -> TreeServedModel:
    """Round ``round_num`` (latest when ``None``) of a tree run's booster; ``site_id`` is kept
    only for the record (every site shares the one booster)."""
    if not tree_rounds(folder):
        raise RunFolderError(folder, "checkpoints/xgboost", "holds no saved round")
    chosen, booster, meta = read_round(folder, round_num)
    return TreeServedModel(
        run_dir=folder, round_num=chosen,
        preprocessing=PreprocessingSpec.from_dict(meta["preprocessing"]),
        threshold=float("nan") if meta.get("threshold") is None else float(meta["threshold"]),
        booster=booster,
        model_overrides=dict(meta.get("hparams", {})), site_id=site_id,
    )


def parse_tree_format(value: str) -> str:
    """``onnx`` or ``json``; anything else is refused with the valid ones listed."""
    chosen = str(value).strip().lower()
    if chosen not in TREE_EXPORT_FORMATS:
        raise ConfigError("format", value,
                          "one of " + ", ".join(TREE_EXPORT_FORMATS) + " for an xgboost model")
    return chosen


def export_tree(served: TreeServedModel, path: Path, export_format: str) -> tuple[str, float]:
    """Write ``served`` to ``path`` (``onnx`` or native ``json``); return (exporter, max
    difference from the booster on seeded windows). ``path`` is a temporary file the caller
    renames once the parity check passed."""
    chosen = parse_tree_format(export_format)
    if chosen == "json":
        path.write_bytes(served.booster)
        return "xgboost save_raw('json')", _json_parity(served, path)
    path.write_bytes(onnx_model(served).SerializeToString())
    from networkfed.serving.export import onnx_parity

    return f"onnxmltools.convert_xgboost (opset {ONNX_ML_OPSET})", onnx_parity(served, path)


def onnx_model(served: TreeServedModel) -> Any:
    """The ONNX model: tree features from windows, the ensemble, the failure column (or the
    remaining life)."""
    import onnx
    import onnxmltools
    from onnx import TensorProto, helper
    from onnxmltools.convert.common.data_types import FloatTensorType

    from networkfed.serving.checkpoint import is_rul_spec
    from networkfed.serving.export import INPUT_NAME

    booster = load_booster(served.booster)
    width = booster.num_features()
    model = onnxmltools.convert_xgboost(
        booster, initial_types=[("tree_features", FloatTensorType([None, width]))],
        target_opset=ONNX_ML_OPSET)
    graph = model.graph
    spec = served.preprocessing
    length, features = spec.sequence_length, spec.input_dim
    nodes, constants = _feature_nodes(length, INPUT_NAME, "tree_features")
    output, last, constant = _output_node(graph, is_rul_spec(spec))
    nodes.append(last)
    new_graph = helper.make_graph(
        [*nodes[:-1], *graph.node, nodes[-1]], "networkfed_xgboost",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, length, features])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [None])],
        initializer=[*graph.initializer, *constants, constant],
    )
    opsets = {o.domain: o.version for o in model.opset_import}
    opsets[""] = max(opsets.get("", 0), ONNX_ML_OPSET)
    result = helper.make_model(
        new_graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
        producer_name="networkfed")
    result.ir_version = model.ir_version
    onnx.checker.check_model(result)
    return result


def _output_node(graph: Any, rul: bool) -> tuple[str, Any, Any]:
    """(output name, the node making it, its constant): the failure column of the
    classifier's ``(batch, 2)`` probabilities, or the regressor's ``(batch, 1)`` remaining
    life flattened to ``(batch,)``."""
    from onnx import TensorProto, helper

    from networkfed.serving.export import OUTPUT_NAME, RUL_OUTPUT_NAME

    if rul:
        shape = helper.make_tensor("rul_shape", TensorProto.INT64, [1], [-1])
        node = helper.make_node("Reshape", [graph.output[0].name, "rul_shape"],
                                [RUL_OUTPUT_NAME])
        return RUL_OUTPUT_NAME, node, shape
    failure_index = helper.make_tensor("failure_index", TensorProto.INT64, [], [1])
    probabilities = graph.output[1].name  # (batch, 2): [no failure, failure]
    node = helper.make_node("Gather", [probabilities, "failure_index"], [OUTPUT_NAME], axis=1)
    return OUTPUT_NAME, node, failure_index


def _feature_nodes(length: int, source: str, target: str) -> tuple[list[Any], list[Any]]:
    """ONNX nodes computing :func:`tree_features` from ``source`` into ``target``."""
    from onnx import TensorProto, helper

    if length == 1:
        return [helper.make_node("Flatten", [source], [target], axis=1)], []
    steps = np.arange(length, dtype=np.float64) - (length - 1) / 2.0
    weights = (steps / float(steps @ steps)).astype(np.float32)
    constants = [
        helper.make_tensor("last_step", TensorProto.INT64, [], [length - 1]),
        helper.make_tensor("slope_weights", TensorProto.FLOAT, [length], weights.tolist()),
    ]
    nodes = [
        helper.make_node("Gather", [source, "last_step"], ["tf_last"], axis=1),
        helper.make_node("ReduceMean", [source], ["tf_mean"], axes=[1], keepdims=0),
        helper.make_node("Einsum", [source, "slope_weights"], ["tf_slope"],
                         equation="ntf,t->nf"),
        helper.make_node("Concat", ["tf_last", "tf_mean", "tf_slope"], [target], axis=1),
    ]
    return nodes, constants


def _json_parity(served: TreeServedModel, path: Path) -> float:
    """The written JSON loaded back by XGBoost against the served booster."""
    from networkfed.serving.export import sample_windows

    written = path.read_bytes()
    worst = 0.0
    for batch, seed in ((7, 1), (33, 2)):
        x = sample_windows(served, batch, seed)  # type: ignore[arg-type]
        got = predict_probability(written, tree_features(x))
        worst = max(worst, float(np.max(np.abs(got - served.predict_proba(x)))))
    return worst
