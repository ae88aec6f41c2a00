"""The engine's site work, sent to Flower SuperNodes: a ``SiteRunner`` over a Flower ``Grid``.

The in-process engine hands its site work to a runner (``train`` and ``predict`` tasks); this
runner turns each task into a Flower message to the node serving that site and each reply
back into what the engine expects. The round loop, sampling, validation, aggregation by
NetworkFed's strategies, evaluation, checkpoints and run folder are the engine's own, so a
Flower run writes the same run folder as an in-process one. Flower only transports.

Real networks lose sites: a node that does not answer within ``timeout`` (or that the
SuperLink reports unavailable) is left out of the round with a warning. Training goes on if
at least ``min_fit_clients`` sites replied, else the run stops with a clear message and the
last saved round intact; a site that cannot be evaluated gets no predictions that round.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from flwr.app import Message, RecordDict
from flwr.serverapp import Grid

from networkfed.core.errors import ConfigError, TrainingError
from networkfed.data import PreprocessingSpec
from networkfed.federated.evaluation import SplitPredictions
from networkfed.federated.execution import SiteRunner, Task
from networkfed.flower.messages import (
    SETUP,
    SITE,
    SiteSetup,
    predict_content,
    predictions_from,
    query_content,
    train_content,
    update_from,
)

logger = logging.getLogger(__name__)

__all__ = ["GridRunner"]

MESSAGE_TYPES = {"train": "train", "predict": "evaluate"}


class GridRunner:
    """Runs ``train`` and ``predict`` tasks on the SuperNodes of a Flower ``Grid``.

    Parameters
    ----------
    grid
        The ``ServerApp``'s grid.
    setup
        Model, training and data settings every site needs.
    min_fit_clients
        Fewest training replies a round may go on with.
    timeout
        Seconds to wait for a round's replies.
    straggler_timeout
        Seconds to wait for the remaining replies once the first one is in (``None``: no
        limit beyond ``timeout``; simulation, where virtual sites take turns).
    local
        Runs baseline ``chain`` tasks (simulation only: a deployment's server has no data).
    """

    def __init__(
        self,
        grid: Grid,
        setup: SiteSetup,
        *,
        min_fit_clients: int,
        timeout: float,
        straggler_timeout: float | None = None,
        local: SiteRunner | None = None,
    ) -> None:
        self.grid, self.setup, self.local = grid, setup.record(), local
        self.min_fit_clients, self.timeout = min_fit_clients, timeout
        self.straggler_timeout = timeout if straggler_timeout is None else straggler_timeout
        self.nodes: dict[str, int] = {}
        """site id -> node id, learnt by asking each node (:meth:`discover`)."""
        self.reports: dict[str, dict[str, Any]] = {}

    def configure(self, setup: SiteSetup) -> None:
        """Send ``setup`` with every later message (once the model is known)."""
        self.setup = setup.record()

    # --- which node serves which site ---------------------------------------------------------
    def discover(self, *, min_nodes: int, wait: float, report: bool = False) -> dict[str, int]:
        """Wait for ``min_nodes`` SuperNodes, then ask every unknown one which site it serves."""
        deadline = time.monotonic() + wait
        while len(node_ids := set(self.grid.get_node_ids())) < min_nodes:
            if time.monotonic() > deadline:
                raise TrainingError(
                    f"only {len(node_ids)} of {min_nodes} SuperNodes connected within "
                    f"{wait:.0f} s; check that every site's flower-supernode is running and "
                    "its key is registered (flwr supernode register)"
                )
            time.sleep(0.5)
        unknown = sorted(node_ids - set(self.nodes.values()))
        if unknown:
            self._identify(unknown, report)
        return dict(self.nodes)

    def report_transformed(self, transform: dict[str, Any]) -> None:
        """Ask every known site again for its report, of its rows after ``transform`` (the
        source's fitted preprocessing, combined from the first reports)."""
        self._identify(sorted(self.nodes.values()), True, transform)

    def report_histograms(self, spec: PreprocessingSpec) -> None:
        """Ask every known site again for its report, now with the per-class histograms of
        its training rows standardised by ``spec`` (for the bin columns)."""
        transform = spec.source_options.get("transform") or None
        self._identify(sorted(self.nodes.values()), True, transform, spec)

    def _identify(
        self, node_ids: Sequence[int], report: bool, transform: dict[str, Any] | None = None,
        scaling: PreprocessingSpec | None = None,
    ) -> None:
        messages = [
            Message(query_content(self.setup, report=report, transform=transform,
                                  scaling=scaling),
                    dst_node_id=node, message_type="query", ttl=self.timeout + 60)
            for node in node_ids
        ]
        self.grid.push_messages(messages)
        node_of = {message.metadata.message_id: message.metadata.dst_node_id
                   for message in messages}
        for reply in self._collect(set(node_of)):
            node = node_of[reply.metadata.reply_to_message_id]
            if reply.has_error():
                logger.warning("SuperNode %s did not say which site it serves: %s", node,
                               reply.error.reason.strip())
                continue
            site = reply.content[SITE]
            site_id = str(site["site-id"])
            if site_id in self.nodes and self.nodes[site_id] != node:
                raise TrainingError(f"two SuperNodes ({self.nodes[site_id]} and {node}) both "
                                    f"serve site {site_id!r}: give each a unique site-id")
            self.nodes[site_id] = node
            if report:
                self.reports[site_id] = _json(str(site["report"]))

    # --- SiteRunner -----------------------------------------------------------------------------
    def run(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[Any], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list:
        """Send every task to its site's node; results in task order (see module notes).
        ``meanwhile`` runs here while the nodes work."""
        if any(task.kind == "chain" for task in tasks):
            return self._run_locally(tasks, on_result, meanwhile)
        kind = _one_kind(tasks)
        sites = [str(task.payload[1]) for task in tasks]
        self._find_missing(sites)
        replies = self._exchange(tasks, sites, meanwhile)
        if kind == "train":
            return self._updates(tasks, sites, replies, on_result)
        return [
            predictions_from(replies[site], task.payload[2]) if site in replies
            else _no_predictions(task.payload[2])
            for site, task in zip(sites, tasks, strict=True)
        ]

    def exchange(
        self, contents: Mapping[str, RecordDict], message_type: str, group: str
    ) -> dict[str, Message]:
        """Send each site its ``contents`` (with this run's setup); good replies by site.

        For work that is not a :class:`Task` (the tree runs of :mod:`networkfed.flower.trees`).
        """
        self._find_missing(list(contents))
        pending: list[tuple[Message, str]] = []
        for site, content in contents.items():
            if site not in self.nodes:
                logger.warning("site %r has no connected SuperNode; it is left out", site)
                continue
            content[SETUP] = self.setup
            pending.append((Message(content, dst_node_id=self.nodes[site],
                                    message_type=message_type, group_id=group,
                                    ttl=self.timeout + 60), site))
        self.grid.push_messages([message for message, _ in pending])
        return self._good_replies(pending)

    def close(self) -> None:
        """Nothing to release: the grid belongs to the ServerApp."""

    def _find_missing(self, sites: Sequence[str]) -> None:
        """A site not seen yet may have (re)connected since: ask the nodes once more."""
        if any(site not in self.nodes for site in sites):
            self.discover(min_nodes=0, wait=0)

    def _exchange(
        self, tasks: Sequence[Task], sites: Sequence[str], meanwhile: Callable[[], None] | None
    ) -> dict[str, Message]:
        """Send the messages, collect replies (see :meth:`_collect`); good replies by site."""
        pending: list[tuple[Message, str]] = []
        for task, site in zip(tasks, sites, strict=True):
            if site in self.nodes:
                pending.append((self._message(task, site), site))
            else:
                logger.warning("site %r has no connected SuperNode; it is left out", site)
        self.grid.push_messages([message for message, _ in pending])
        if meanwhile is not None:
            meanwhile()
        return self._good_replies(pending)

    def _good_replies(self, pending: Sequence[tuple[Message, str]]) -> dict[str, Message]:
        site_of = {message.metadata.message_id: site for message, site in pending}
        good: dict[str, Message] = {}
        for reply in self._collect(set(site_of)):
            site = site_of[reply.metadata.reply_to_message_id]
            if reply.has_error():
                logger.warning("site %r failed: %s", site, reply.error.reason.strip())
            else:
                good[site] = reply
        return good

    def _collect(self, message_ids: set[str]) -> list[Message]:
        """Replies until all are in, ``timeout`` passes, or ``straggler_timeout`` has passed
        since the first reply (a crashed node is only declared gone after missed heartbeats).
        """
        replies: list[Message] = []
        waiting, started, first = set(message_ids), time.monotonic(), None
        while waiting:
            now = time.monotonic()
            late = first is not None and now - first > self.straggler_timeout
            if now - started > self.timeout or late:
                logger.warning("%d site(s) did not reply within %.0f s", len(waiting),
                               now - started)
                break
            found = [r for r in self.grid.pull_messages(waiting)
                     if r.metadata.reply_to_message_id in waiting]
            waiting -= {reply.metadata.reply_to_message_id for reply in found}
            replies += found
            if found and first is None:
                first = time.monotonic()
            time.sleep(0 if found else 0.1)
        return replies

    def _message(self, task: Task, site: str) -> Message:
        state, _, detail = task.payload
        if task.kind == "train":
            content = train_content(self.setup, state, site, detail)
            group = str(detail.round_num)
        else:
            content = predict_content(self.setup, state, site, detail)
            group = "evaluate"
        return Message(content, dst_node_id=self.nodes[site], message_type=MESSAGE_TYPES[task.kind],
                       group_id=group, ttl=self.timeout + 60)

    def _updates(
        self,
        tasks: Sequence[Task],
        sites: Sequence[str],
        replies: dict[str, Message],
        on_result: Callable[[Any], None] | None,
    ) -> list:
        updates = [update_from(replies[site]) for site in sites if site in replies]
        for update in updates:
            if on_result is not None:
                on_result(update)
        if len(updates) < self.min_fit_clients:
            round_num = tasks[0].payload[2].round_num
            missing = ", ".join(sorted(set(sites) - set(replies)))
            raise TrainingError(
                f"round {round_num}: only {len(updates)} of {len(sites)} sampled sites replied "
                f"(no update from {missing}), fewer than min_fit_clients={self.min_fit_clients};"
                f" the run stops and the global model stays at round {round_num - 1} (restart "
                "the missing SuperNodes and resume, or lower min-fit-clients)"
            )
        return updates

    def _run_locally(
        self,
        tasks: Sequence[Task],
        on_result: Callable[[Any], None] | None,
        meanwhile: Callable[[], None] | None,
    ) -> list:
        if self.local is None:
            raise ConfigError("baselines", True, "false under a Flower deployment (baselines "
                              "pool or isolate site data, which stays at the plants)")
        return self.local.run(tasks, on_result, meanwhile)


def _one_kind(tasks: Sequence[Task]) -> str:
    kinds = {task.kind for task in tasks}
    if len(kinds) != 1 or not kinds <= set(MESSAGE_TYPES):
        raise ValueError(f"GridRunner runs one kind of task at a time, got {sorted(kinds)}")
    return kinds.pop()


def _no_predictions(splits: Sequence[str]) -> dict[str, SplitPredictions]:
    """A site that could not be evaluated this round contributes no windows."""
    empty = SplitPredictions(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    return dict.fromkeys(splits, empty)


def _json(text: str) -> dict[str, Any]:
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else {}
