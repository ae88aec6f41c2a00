"""The Flower ``ClientApp``: one site's local work, in simulation and in a plant alike.

A thin shell: each handler decodes a message, calls the library (the engine's own
``SiteExecutor`` on this site's data) and encodes the reply. Which site this is comes from the
SuperNode's node config — ``partition-id`` in Flower's simulation, ``site-id`` (and
``data-path``) in a deployment — and the site only ever reads its own data.
"""

from __future__ import annotations

from networkfed.startup import imports_for_life

# Flower starts a process for every message a deployed site receives, and it loads this
# module there first: its imports run with the collector paused and stay frozen (about 0.3 s
# sooner to work, 0.5 s less to exit; see networkfed.startup).
with imports_for_life():
    from flwr.app import Context, Message
    from flwr.clientapp import ClientApp

    from networkfed.federated.execution import Task
    from networkfed.federated.local_training import FitInstructions
    from networkfed.flower.messages import (
        ARRAYS,
        CONFIG,
        SETUP,
        SiteSetup,
        predictions_content,
        query_scaling,
        query_transform,
        site_identity,
        update_content,
    )
    from networkfed.flower.site_work import executor_for, identify, load_site, report_for
    from networkfed.flower.trees import is_tree_message, tree_reply

__all__ = ["app"]

app = ClientApp()


@app.query()
def query(message: Message, context: Context) -> Message:
    """Say which site this node serves; a deployed site adds its data report."""
    setup = SiteSetup.from_record(message.content[SETUP])
    site_id, partition = identify(context.node_config, setup)
    wants_report = bool(message.content[CONFIG]["report"]) and partition < 0
    transform, scaling = query_transform(message.content), query_scaling(message.content)
    report = report_for(context.node_config, setup, transform, scaling) if wants_report else None
    return Message(site_identity(site_id, partition, report), reply_to=message)


@app.train()
def train(message: Message, context: Context) -> Message:
    """One round of local training from the global state the server sent."""
    if is_tree_message(message.content):  # xgboost: boost trees from the global booster
        return Message(tree_reply(message.content, context.node_config), reply_to=message)
    setup = SiteSetup.from_record(message.content[SETUP])
    config = message.content[CONFIG]
    site = load_site(context.node_config, setup, str(config["site-id"]))
    state = message.content[ARRAYS].to_torch_state_dict()
    task = Task("train", (state, site.site_id, FitInstructions.from_config(config)), 0.0)
    update = executor_for(setup, site).execute(task)
    return Message(update_content(update), reply_to=message)


@app.evaluate()
def evaluate(message: Message, context: Context) -> Message:
    """The global model's failure probabilities on this site's validation and test windows."""
    if is_tree_message(message.content):  # xgboost: the global booster's predictions
        return Message(tree_reply(message.content, context.node_config), reply_to=message)
    setup = SiteSetup.from_record(message.content[SETUP])
    config = message.content[CONFIG]
    site = load_site(context.node_config, setup, str(config["site-id"]))
    state = message.content[ARRAYS].to_torch_state_dict()
    splits = tuple(str(split) for split in config["splits"])  # type: ignore[union-attr]
    predictions = executor_for(setup, site).execute(
        Task("predict", (state, site.site_id, splits), 0.0)
    )
    return Message(predictions_content(predictions), reply_to=message)
