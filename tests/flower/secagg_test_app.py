"""The ClientApp of the SecAgg+ deployment test: the package's own, plus two test hooks steered
by environment variables the SuperNodes pass on to their ``flwr-clientapp`` processes.

* ``NETWORKFED_TEST_SECAGG_DROP="<site>:<round>"``: that site raises at the protocol's "collect
  masked vectors" stage of that round, i.e. after it shared its keys — for the server, a site
  lost mid-protocol, whose masks must be removed with the others' shares;
* ``NETWORKFED_TEST_SECAGG_RECORD=<folder>``: every site writes its clear delta and weight there
  before the mod masks them, so the test can compute the FedAvg the secure sum must equal.

The deployment copies this file into its app folder; Flower ships it in the app bundle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import parameters_to_ndarrays
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage
from flwr.compat.common import recorddict_compat as compat

from networkfed.flower import client_app as package
from networkfed.flower.secagg_site import STATE_KEYS, is_secure_training, secagg_when_asked

DROP, RECORD = "NETWORKFED_TEST_SECAGG_DROP", "NETWORKFED_TEST_SECAGG_RECORD"

app = ClientApp()
app.query()(package.query)
app.evaluate()(package.evaluate)


def drop_on_cue(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Fail like a lost site at stage 2 of the round named in ``DROP``."""
    configs = message.content.config_records.get(RECORD_KEY_CONFIGS)
    site = str(context.node_config["site-id"])
    cue = f"{site}:{message.metadata.group_id}"
    if configs is not None and configs.get(Key.STAGE) == Stage.COLLECT_MASKED_VECTORS \
            and os.environ.get(DROP) == cue:
        raise RuntimeError(f"site {site} lost after sharing its keys")
    return call_next(message, context)


@app.train(mods=[drop_on_cue, secagg_when_asked])
def train(message: Message, context: Context) -> Message:
    """The package's training; under SecAgg+ the clear delta is recorded before masking."""
    reply = package.train(message, context)
    if is_secure_training(message.content) and os.environ.get(RECORD):
        fitins = compat.recorddict_to_fitins(message.content, keep_input=True)
        keys = json.loads(str(fitins.config[STATE_KEYS]))
        arrays = parameters_to_ndarrays(fitins.parameters)
        floats = [key for key, a in zip(keys, arrays, strict=True) if a.dtype.kind == "f"]
        fitres = compat.recorddict_to_fitres(reply.content, keep_input=True)
        deltas = dict(zip(floats, parameters_to_ndarrays(fitres.parameters), strict=True))
        name = f"{context.node_config['site-id']}-round{message.metadata.group_id}.npz"
        np.savez(Path(os.environ[RECORD]) / name, num_examples=fitres.num_examples, **deltas)
    return reply
