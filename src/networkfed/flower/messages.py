"""NetworkFed's site work as Flower messages, and back: the only place that knows the layout.

Every message to a site carries a ``setup`` ``ConfigRecord`` (how to build and train the model,
which data the run uses), so a ``ClientApp`` needs nothing else to act — not even the run's
``run_config``. Replies carry what the in-process engine's site work returns:

========= ================================================ ========================================
type      content sent                                     reply
========= ================================================ ========================================
query     ``setup`` (+ ``report`` flag)                    ``site``: site id / partition id (and
                                                           the site's data report in deployment)
train     ``setup``, ``arrays`` (global state),            ``arrays`` (trained state), ``metrics``
          ``config`` (:class:`FitInstructions` + site id)  (``num-examples``, training loss)
evaluate  ``setup``, ``arrays``, ``config`` (site id,      ``arrays``: labels and failure
          splits)                                          probabilities per split
========= ================================================ ========================================

Evaluation replies hold labels and probabilities of the validation and test windows (never
features), because the alarm threshold is chosen on the pooled validation predictions, exactly
as in the in-process engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from torch import Tensor

from networkfed.data import DataConfig, PreprocessingSpec
from networkfed.federated.evaluation import SplitPredictions
from networkfed.federated.local_training import FitInstructions, ModelSpec
from networkfed.federated.packing import pack_state
from networkfed.federated.types import SiteUpdate

__all__ = [
    "SiteSetup",
    "predict_content",
    "predictions_content",
    "predictions_from",
    "query_content",
    "query_transform",
    "site_identity",
    "spec_dict",
    "spec_from_dict",
    "train_content",
    "update_content",
    "update_from",
]

SETUP, ARRAYS, CONFIG, METRICS, SITE = "setup", "arrays", "config", "metrics", "site"
NUM_EXAMPLES = "num-examples"


@dataclass(frozen=True)
class SiteSetup:
    """What every site needs to act: the run's data and, for site work, the model.

    ``spec`` is ``None`` only while the server is still learning who the sites are (the
    model's input size follows from the data they report).
    """

    data: DataConfig
    seed: int
    fingerprint: str = ""
    spec: ModelSpec | None = None
    training: dict[str, Any] = field(default_factory=dict)
    preprocessing: PreprocessingSpec | None = None
    """The federation's standardisation (deployment); ``None`` in simulation."""

    def record(self) -> ConfigRecord:
        spec = spec_dict(self.spec) if self.spec is not None else None
        preprocessing = self.preprocessing.to_dict() if self.preprocessing else None
        return ConfigRecord({
            "data": self.data.model_dump_json(),
            "seed": self.seed,
            "fingerprint": self.fingerprint,
            "model-spec": json.dumps(spec),
            "training": json.dumps(self.training),
            "preprocessing": json.dumps(preprocessing),
        })

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SiteSetup:
        spec = json.loads(str(record["model-spec"]))
        preprocessing = json.loads(str(record["preprocessing"]))
        return cls(
            data=DataConfig.model_validate_json(str(record["data"])),
            seed=int(record["seed"]),
            fingerprint=str(record["fingerprint"]),
            spec=None if spec is None else spec_from_dict(spec),
            training=json.loads(str(record["training"])),
            preprocessing=PreprocessingSpec.from_dict(preprocessing) if preprocessing else None,
        )


def spec_dict(spec: ModelSpec) -> dict[str, Any]:
    """A :class:`ModelSpec` as JSON-ready fields (with a RUL run's target scale and loss:
    the site trains on the target / scale and predicts in cycles, as in-process)."""
    return {"model_type": spec.model_type, "input_dim": spec.input_dim,
            "num_classes": spec.num_classes, "overrides": spec.overrides,
            "target_scale": spec.target_scale, "loss": spec.loss}


def spec_from_dict(spec: Mapping[str, Any]) -> ModelSpec:
    """The :class:`ModelSpec` of :func:`spec_dict`'s fields."""
    return ModelSpec(spec["model_type"], int(spec["input_dim"]), int(spec["num_classes"]),
                     dict(spec["overrides"]), target_scale=float(spec["target_scale"]),
                     loss=spec["loss"])


# --- server -> site -----------------------------------------------------------------------
def query_content(
    setup: ConfigRecord, *, report: bool, transform: Mapping[str, Any] | None = None,
    scaling: PreprocessingSpec | None = None,
) -> RecordDict:
    """Who are you (and, with ``report``, your data report; with ``transform``, the report of
    your rows after the source's fitted preprocessing; with ``scaling``, also the per-class
    histograms of your training rows standardised with it, for the bin columns)."""
    config = ConfigRecord({
        "report": report, "transform": json.dumps(transform or {}),
        "scaling": json.dumps(None if scaling is None else scaling.to_dict()),
    })
    return RecordDict({SETUP: setup, CONFIG: config})


def query_transform(content: RecordDict) -> dict[str, Any]:
    """The transform state a query carries (empty: report the rows as they are)."""
    config = content[CONFIG]
    return json.loads(str(config["transform"])) if "transform" in config else {}


def query_scaling(content: RecordDict) -> PreprocessingSpec | None:
    """The federation's preprocessing a query asks histograms under (``None``: no histograms)."""
    config = content[CONFIG]
    found = json.loads(str(config["scaling"])) if "scaling" in config else None
    return None if found is None else PreprocessingSpec.from_dict(found)


def train_content(
    setup: ConfigRecord, state: Mapping[str, Tensor], site_id: str, instructions: FitInstructions
) -> RecordDict:
    config = ConfigRecord({**instructions.to_config(), "site-id": site_id})
    return RecordDict({SETUP: setup, ARRAYS: ArrayRecord(dict(state)), CONFIG: config})


def predict_content(
    setup: ConfigRecord, state: Mapping[str, Tensor], site_id: str, splits: Sequence[str]
) -> RecordDict:
    config = ConfigRecord({"site-id": site_id, "splits": list(splits)})
    return RecordDict({SETUP: setup, ARRAYS: ArrayRecord(dict(state)), CONFIG: config})


# --- site -> server -----------------------------------------------------------------------
def site_identity(site_id: str, partition_id: int, report: Mapping[str, Any] | None) -> RecordDict:
    """A query reply: who this site is (and, in deployment, its data report)."""
    record = ConfigRecord({"site-id": site_id, "partition-id": partition_id,
                           "report": json.dumps(report)})
    return RecordDict({SITE: record})


def update_content(update: SiteUpdate) -> RecordDict:
    metrics = MetricRecord({NUM_EXAMPLES: update.num_examples, **update.metrics})
    return RecordDict({
        ARRAYS: ArrayRecord(update.state),
        METRICS: metrics,
        SITE: ConfigRecord({"site-id": update.site_id}),
    })


def update_from(reply: Message) -> SiteUpdate:
    metrics = dict(reply.content[METRICS])
    num_examples = int(metrics.pop(NUM_EXAMPLES))  # type: ignore[call-overload]
    return SiteUpdate(
        site_id=str(reply.content[SITE]["site-id"]),
        state=pack_state(reply.content[ARRAYS].to_torch_state_dict()),  # as in-process
        num_examples=num_examples,
        metrics={key: float(value) for key, value in metrics.items()},  # type: ignore[arg-type]
    )


def predictions_content(predictions: Mapping[str, SplitPredictions]) -> RecordDict:
    arrays = {}
    for split, found in predictions.items():
        arrays[f"{split}.y_true"] = Array(np.ascontiguousarray(found.y_true))
        arrays[f"{split}.probability"] = Array(np.ascontiguousarray(found.probability))
    examples = sum(len(found) for found in predictions.values())
    metrics = MetricRecord({NUM_EXAMPLES: examples})
    return RecordDict({ARRAYS: ArrayRecord(arrays), METRICS: metrics})


def predictions_from(reply: Message, splits: Sequence[str]) -> dict[str, SplitPredictions]:
    arrays = reply.content[ARRAYS]
    return {
        split: SplitPredictions(arrays[f"{split}.y_true"].numpy(),
                                arrays[f"{split}.probability"].numpy())
        for split in splits
    }
