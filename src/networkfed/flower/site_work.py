"""Site side of the Flower app: who this SuperNode is, its data, and the resident executor.

The ``ClientApp`` handlers are one line of Flower translation around these helpers; the work
itself is the engine's own :class:`~networkfed.federated.execution.SiteExecutor`, so a site
trains and predicts under Flower exactly as it does in the in-process engine.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from networkfed.core.errors import ConfigError
from networkfed.data.types import PreprocessingSpec, SiteData
from networkfed.federated.execution import SiteExecutor
from networkfed.flower.messages import SiteSetup, spec_dict, spec_from_dict
from networkfed.flower.site_data import (
    deployed_site_data,
    local_data_config,
    simulation_site,
    site_histograms,
    site_report,
    site_table,
)

__all__ = ["executor_for", "identify", "load_site", "report_for"]

PARTITION_ID, SITE_ID = "partition-id", "site-id"


def identify(node_config: Mapping[str, Any], setup: SiteSetup) -> tuple[str, int]:
    """``(site_id, partition_id)``: partition ``-1`` marks a deployed (real) site."""
    if PARTITION_ID in node_config:
        partition = int(node_config[PARTITION_ID])
        site = simulation_site(setup.data.model_dump_json(), setup.seed, setup.fingerprint,
                               partition)
        return site.site_id, partition
    site_id = str(node_config.get(SITE_ID, "")).strip()
    if not site_id:
        raise ConfigError("site-id", node_config.get(SITE_ID),
                          "the site's name in --node-config, e.g. site-id='plant_a'")
    return site_id, -1


def report_for(
    node_config: Mapping[str, Any], setup: SiteSetup, transform: dict[str, Any] | None = None,
    scaling: PreprocessingSpec | None = None,
) -> dict[str, Any]:
    """A deployed site's data report (sizes and sufficient statistics, no rows), of its rows
    after the source's fitted preprocessing when the server sends that state; with the
    federation's ``scaling``, also the per-class histograms the bin columns are fitted on."""
    site_id, _ = identify(node_config, setup)
    config = local_data_config(setup.data, site_id, dict(node_config))
    table = site_table(config, site_id, setup.seed)
    report = site_report(table, transform)
    if scaling is not None:
        report["histograms"] = site_histograms(table, scaling)
    return report


def load_site(node_config: Mapping[str, Any], setup: SiteSetup, expected: str) -> SiteData:
    """This node's site data; ``expected`` is the site the server addressed."""
    site_id, partition = identify(node_config, setup)
    if site_id != expected:
        raise ConfigError("site-id", site_id, f"the site the server addressed ({expected!r})")
    if partition >= 0:
        return simulation_site(setup.data.model_dump_json(), setup.seed, setup.fingerprint,
                               partition)
    if setup.preprocessing is None:
        raise ConfigError("preprocessing", None, "the federation's statistics from the server")
    config = local_data_config(setup.data, site_id, dict(node_config))
    return deployed_site_data(site_table(config, site_id, setup.seed), setup.preprocessing)


@functools.lru_cache(maxsize=2)
def _executor(spec_json: str, training_json: str) -> SiteExecutor:
    return SiteExecutor(spec_from_dict(json.loads(spec_json)), json.loads(training_json), {})


def executor_for(setup: SiteSetup, site: SiteData) -> SiteExecutor:
    """The process's executor for this model (kept across messages), holding ``site``.

    In Flower's simulation one Ray actor serves many virtual sites in turn, so the model and
    trainer are built once per actor, as in an in-process worker.
    """
    if setup.spec is None:
        raise ConfigError("model-spec", None, "the model settings the server sends with site work")
    executor = _executor(json.dumps(spec_dict(setup.spec), sort_keys=True),
                         json.dumps(setup.training, sort_keys=True))
    executor.sites[site.site_id] = site
    return executor
