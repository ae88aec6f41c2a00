"""An in-memory stand-in for Flower's grid that delivers messages to the real ClientApp.

Lets the GridRunner and the ClientApp be tested together in one process, in seconds: each
message is handled at once by ``networkfed.flower.client_app.app`` under the node config a
SuperNode would have; nodes listed in ``silent`` never answer (a crashed plant).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flwr.app import Context, Message, RecordDict
from flwr.supercore.task_identity import TaskIdentity

from networkfed.flower.client_app import app as client_app


class FakeGrid:
    """Nodes ``1..n`` with the given node configs; replies are ready as soon as pushed."""

    def __init__(self, node_configs: Mapping[int, Mapping[str, Any]]) -> None:
        self.node_configs = dict(node_configs)
        self.silent: set[int] = set()
        self.replies: dict[str, Message] = {}
        self.sent: list[Message] = []
        TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 1  # as Flower's

    def get_node_ids(self) -> Iterable[int]:
        return list(self.node_configs)

    def push_messages(self, messages: Iterable[Message]) -> list[str]:
        ids = []
        for message in messages:
            message.metadata.__dict__["_message_id"] = str(uuid.uuid4())
            self.sent.append(message)
            ids.append(message.metadata.message_id)
            node = message.metadata.dst_node_id
            if node not in self.silent:
                context = Context(run_id=1, node_id=node, node_config=dict(self.node_configs[node]),
                                  state=RecordDict(), run_config={})
                self.replies[message.metadata.message_id] = client_app(message, context)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> list[Message]:
        return [self.replies.pop(i) for i in list(message_ids) if i in self.replies]

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None):
        return self.pull_messages(self.push_messages(messages))
