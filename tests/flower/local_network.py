"""A real Flower network on 127.0.0.1 for the deployment tests: SuperLink and one SuperNode per
site as separate processes (TLS and SuperNode authentication on), and ``flwr run`` of the
package's Flower App on it. Each test module starts its own network once (processes are
expensive) and stops it by PID."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from networkfed.federated.config import RunConfig
from networkfed.flower.certs import make_certificates
from networkfed.flower.deploy import (
    DeployOptions,
    deploy_run_config,
    write_app_dir,
    write_config_file,
)
from networkfed.flower.federation import LocalFederation, RunOutcome
from networkfed.flower.processes import process_table

SITES = ("automotive_detroit", "chemical_houston", "aerospace_seattle")
OPTIONS = DeployOptions(round_timeout=240.0, straggler_timeout=30.0, node_wait_timeout=120.0,
                        run_timeout=420.0)


def local_network(folder: Path, sites: Sequence[str] = SITES,
                  extra_keys: Sequence[str] = ()) -> Iterator[LocalFederation]:
    """Body of a module fixture: the network up, then every process it started stopped."""
    certs = make_certificates(folder / "certs", site_ids=[*sites, *extra_keys])
    federation = LocalFederation(folder, certs)
    try:
        federation.start_superlink()
        for site in sites:
            federation.register_supernode(certs.node_keys[site][1])
            federation.start_supernode(site, certs.node_keys[site][0], {"site-id": site})
        yield federation
    finally:
        started = [p.pid for p in federation.processes.values()]
        federation.stop()
        left = set(process_table())
        assert not left & set(started), "a Flower process outlived the fixture"


def run_on(network: LocalFederation, config: RunConfig, *, resume: bool = False,
           num_sites: int = len(SITES)) -> RunOutcome:
    """``flwr run`` of the package's app with ``config`` (its ``run_dir`` set) on ``network``."""
    config_file = write_config_file(config, network.directory)
    options = DeployOptions(**{**OPTIONS.__dict__, "resume": resume})
    values = deploy_run_config(config_file, Path(config.run_dir), num_sites, options)
    app = write_app_dir(network.directory / "app")
    return network.run_app(app, values, timeout=options.run_timeout)
