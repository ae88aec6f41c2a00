"""``networkfed flower up``: a complete, secured Flower deployment on this one machine.

What a plant network does across machines, done here with local processes (each step is the
command docs/user-guide/flower.md shows with real host names):

1. certificates (:func:`~networkfed.flower.certs.make_certificates`): a CA, the SuperLink's
   certificate for 127.0.0.1/localhost, one authentication key pair per site;
2. ``flower-superlink`` with TLS and ``--enable-supernode-auth``;
3. ``flwr supernode register`` of every site's public key;
4. one ``flower-supernode`` per site whose ``--node-config`` names only that site's data;
5. ``flwr run . <connection>`` from a Flower App folder, with the run's settings as a
   NetworkFed config file; the ServerApp writes the usual run folder.

Every process is stopped (by PID, children included) when the run ends or fails.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from networkfed.core.errors import ConfigError
from networkfed.federated.config import RunConfig
from networkfed.flower.certs import CertificateSet, make_certificates
from networkfed.flower.federation import LocalFederation, NodeConfigValue, RunOutcome
from networkfed.flower.secagg_settings import SecAggSettings
from networkfed.flower.settings import DEFAULT_RUN_CONFIG

logger = logging.getLogger(__name__)

__all__ = [
    "DeployOptions",
    "deploy_locally",
    "deploy_run_config",
    "node_configs",
    "write_app_dir",
    "write_config_file",
]

APP_NAME = "networkfed"
CLIENT_APP = "networkfed.flower.client_app:app"


def write_app_dir(directory: str | Path, client_app: str = CLIENT_APP) -> Path:
    """A minimal Flower App folder: ``pyproject.toml`` naming the package's apps.

    ``client_app`` is the ``module:object`` of the ``ClientApp`` (a module beside
    ``pyproject.toml`` travels with the app bundle; tests use one that fails on cue).

    The code itself is the installed ``networkfed`` package (Flower runs the app with runtime
    dependency installation disabled), so the bundle ``flwr run`` uploads stays tiny and works
    from a wheel install as well as from a source checkout.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    from networkfed import __version__

    project = {
        "project": {"name": APP_NAME, "version": __version__, "license": "Apache-2.0",
                    "description": "NetworkFed federated failure prediction (Flower App)",
                    "dependencies": ["networkfed[flower]"]},
        "tool": {"flwr": {"app": {
            "publisher": "networkfed",
            "components": {"serverapp": "networkfed.flower.server_app:app",
                           "clientapp": client_app},
            "config": dict(DEFAULT_RUN_CONFIG),
        }}},
    }
    tmp = folder / ".pyproject.toml.tmp"
    tmp.write_text(tomli_w.dumps(project), encoding="utf-8")
    os.replace(tmp, folder / "pyproject.toml")
    return folder


def node_configs(
    config: RunConfig, site_paths: Mapping[str, Path] | None = None
) -> dict[str, dict[str, NodeConfigValue]]:
    """Each site's ``--node-config``: its id and, for file-based data, only its own file."""
    if site_paths:
        return {site: {"site-id": site, "data-path": str(Path(path).resolve())}
                for site, path in site_paths.items()}
    if config.data.dataset != "synthetic":
        raise ConfigError("--site", None, f"NAME=PATH for every site: a {config.data.dataset} "
                          "deployment gives each SuperNode its own data file (C-MAPSS: folder)")
    return {site: {"site-id": site} for site in config.data.sites}


@dataclass(frozen=True)
class DeployOptions:
    """How the local deployment waits: for its nodes and for each round's replies."""

    round_timeout: float = 600.0
    straggler_timeout: float = 120.0
    node_wait_timeout: float = 300.0
    run_timeout: float = 24 * 3600.0
    resume: bool = False
    secagg: SecAggSettings | None = None
    """SecAgg+ for every training round (``flower up --secagg``); ``None``: plain FedAvg
    messages."""


def deploy_locally(
    config: RunConfig,
    directory: str | Path,
    nodes: Mapping[str, Mapping[str, NodeConfigValue]],
    options: DeployOptions = DeployOptions(),
    *,
    echo: Callable[[str], None] | None = None,
    certs: CertificateSet | None = None,
) -> RunOutcome:
    """Bring up SuperLink and SuperNodes, run the federation, stop everything; return how it ended.

    ``config.run_dir`` is where the ServerApp writes the run folder (made absolute here).
    """
    folder = Path(directory).resolve()
    certs = certs or make_certificates(folder / "certs", site_ids=list(nodes))
    run_dir = Path(config.run_dir or folder / "run").resolve()
    config_file = write_config_file(config.model_copy(update={"run_dir": run_dir}), folder)
    with LocalFederation(folder, certs) as federation:
        federation.start_superlink()
        for site in nodes:
            federation.register_supernode(certs.node_keys[site][1])
        for site, node_config in nodes.items():
            federation.start_supernode(site, certs.node_keys[site][0], node_config)
        run_config = deploy_run_config(config_file, run_dir, len(nodes), options)
        app_dir = write_app_dir(folder / "app")
        return federation.run_app(app_dir, run_config, timeout=options.run_timeout, echo=echo)


def deploy_run_config(
    config_file: Path, run_dir: Path, num_nodes: int, options: DeployOptions
) -> dict[str, NodeConfigValue]:
    """``flwr run --run-config`` values: the settings file, run folder and waiting rules."""
    values: dict[str, NodeConfigValue] = {
        "config-file": str(config_file), "run-dir": str(run_dir), "min-nodes": num_nodes,
        "resume": options.resume, "round-timeout": options.round_timeout,
        "straggler-timeout": options.straggler_timeout,
        "node-wait-timeout": options.node_wait_timeout,
    }
    if options.secagg is not None:
        values |= {"secagg": True, "secagg-shares": options.secagg.shares,
                   "secagg-threshold": options.secagg.threshold}
    return values


def write_config_file(config: RunConfig, folder: Path) -> Path:
    """The run's settings in ``networkfed simulate --config`` format, for the ServerApp."""
    from networkfed.monitoring.run_writer import config_dict

    values = {k: v for k, v in config_dict(config).items() if v is not None}
    values["data"] = {k: v for k, v in values["data"].items() if v is not None}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"networkfed-{config.run_dir.name if config.run_dir else 'run'}.toml"
    path.write_text(tomli_w.dumps(values), encoding="utf-8")
    return path
