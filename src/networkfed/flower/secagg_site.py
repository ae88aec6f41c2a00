"""Site side of secure aggregation (``flower up --secagg``; see :mod:`networkfed.flower.secagg`).

The ``ClientApp``'s train handler carries :func:`secagg_when_asked`: a training message of the
SecAgg+ protocol (it holds Flower's ``secaggplus`` config record) goes through Flower's
``secaggplus_mod``, which answers the key stages itself and, at "collect masked vectors", calls
the handler; :func:`secure_train_content` then trains exactly as a plain round does and returns
the *delta* of the float tensors in the legacy ``FitRes`` shape the mod masks. Every other
message passes straight through, so plain runs never import the protocol's cryptography.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from flwr.app import Context, Message, RecordDict
from flwr.clientapp.typing import ClientAppCallable
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS
from torch import Tensor

from networkfed.core.errors import TrainingError
from networkfed.federated.execution import Task
from networkfed.federated.local_training import FitInstructions
from networkfed.flower.messages import SiteSetup
from networkfed.flower.secagg_settings import CLIPPING_RANGE

logger = logging.getLogger(__name__)

__all__ = [
    "SECAGG_RECORD",
    "SECURE_CONFIG",
    "SECURE_SETUP",
    "STATE_KEYS",
    "float_keys",
    "is_secure_training",
    "secagg_when_asked",
    "secure_train_content",
]

SECAGG_RECORD = RECORD_KEY_CONFIGS
"""Flower's config record of the protocol's messages."""
SECURE_SETUP, SECURE_CONFIG, STATE_KEYS = "networkfed-setup", "networkfed-config", "state-keys"
_FITINS_CONFIG = "fitins.config"
CLIPPED = "secagg-clipped"
"""Training metric: delta values beyond the clipping range (clipped before quantisation)."""


def secagg_when_asked(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Route SecAgg+ training messages through Flower's ``secaggplus_mod``."""
    if SECAGG_RECORD not in message.content.config_records:
        return call_next(message, context)
    from flwr.client.mod import secaggplus_mod

    return secaggplus_mod(message, context, call_next)


def is_secure_training(content: RecordDict) -> bool:
    """A protocol's "collect masked vectors" message: train, reply with a ``FitRes``."""
    return _FITINS_CONFIG in content.config_records


def float_keys(state: Mapping[str, Tensor]) -> list[str]:
    """The tensors in the secure sum: floating point ones, in state order."""
    return [key for key, tensor in state.items() if tensor.is_floating_point()]


def secure_train_content(content: RecordDict, node_config: Mapping[str, Any]) -> RecordDict:
    """Train this site from the global state the protocol forwarded; reply with the deltas.

    The deltas (trained - global, float tensors only) are what the mod weights, quantises and
    masks; a non-finite delta is refused here, since the server cannot inspect it later.
    NumPy's global generator is seeded from (seed, site, round) for the mod's stochastic
    rounding, so a secure run reproduces exactly.
    """
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.compat.common import recorddict_compat as compat

    from networkfed.flower.site_work import executor_for, load_site

    fitins = compat.recorddict_to_fitins(content, keep_input=True)
    setup = SiteSetup.from_record(json.loads(str(fitins.config[SECURE_SETUP])))
    config = json.loads(str(fitins.config[SECURE_CONFIG]))
    site = load_site(node_config, setup, str(config["site-id"]))
    keys = json.loads(str(fitins.config[STATE_KEYS]))
    arrays = parameters_to_ndarrays(fitins.parameters)
    state = {key: torch.from_numpy(np.array(array)) for key, array in zip(keys, arrays,
                                                                          strict=True)}
    instructions = FitInstructions.from_config(config)
    update = executor_for(setup, site).execute(
        Task("train", (state, site.site_id, instructions), 0.0))
    deltas = [(update.state[key].double() - state[key].double()).numpy()
              for key in float_keys(state)]
    if not all(np.isfinite(delta).all() for delta in deltas):
        raise TrainingError(f"site {site.site_id!r}: round {instructions.round_num} update has "
                            "non-finite values; it is left out of the secure sum")
    clipped = sum(int((np.abs(delta) > CLIPPING_RANGE).sum()) for delta in deltas)
    if clipped:
        logger.warning("site %r: %d update values beyond the SecAgg+ clipping range", site.site_id,
                       clipped)
    np.random.seed(zlib.crc32(f"{instructions.seed}:{site.site_id}:{instructions.round_num}"
                              .encode()))
    metrics = {**update.metrics, CLIPPED: clipped}
    fitres = FitRes(Status(Code.OK, "trained"), ndarrays_to_parameters(deltas),
                    update.num_examples, metrics)
    return compat.fitres_to_recorddict(fitres, keep_input=True)
